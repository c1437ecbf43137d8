"""README's "The API in one walk" runs as written, with curl and jq, against a
live api and worker: the docs are a contract, and this one once signed up a
handle too short to exist. Two lines are adapted, and only them: the address,
and "again until completed", which becomes that loop."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLL_LINE = re.compile(r'^curl -s \$B/v1/videos/\$V .*# again until "completed"$')


def walk_script(readme: str, base: str) -> str:
    """The walk's shell block, pointed at ``base``, its status check made a wait."""
    section = readme.split("## The API in one walk", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        if line.startswith("B=localhost:8000;"):
            line = line.replace("B=localhost:8000", f"B={base}", 1)
        elif POLL_LINE.match(line):
            line = (
                'for _ in $(seq 600); do S=$(curl -s $B/v1/videos/$V -H "authorization: Bearer $ADA" | jq -r .status); '
                '[ "$S" = completed ] && break; [ "$S" = failed ] && exit 3; sleep 0.5; done; echo "status $S"'
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_the_readme_walk_runs_as_written(api, worker, tmp_path):
    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.skip("the walk needs curl and jq")
    readme = (ROOT / "README.md").read_text()
    script = walk_script(readme, api.url.removeprefix("http://"))
    assert script.count("B=127.0.0.1:") == 1 and "status $S" in script, "the walk's block changed shape: adapt the test"
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert "status completed" in out, done.stdout
    assert (tmp_path / "boat.mp4").stat().st_size > 1000  # the video it downloaded
    assert '{"following":true}' in out, done.stdout
    # what the README says ada hears of it, to the character
    documented = re.search(r"# → (\{.*\})", readme).group(1)
    assert documented in out, (documented, done.stdout)
    assert json.loads(documented) == {"unread_count": 3, "kinds": ["comment", "like", "follow"]}
    assert out[-1].startswith("http://127.0.0.1:8000/p/post_"), out[-1]
