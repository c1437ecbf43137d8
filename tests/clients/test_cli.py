"""The ``fabula`` user commands against a running api and worker: login
(the token kept in a 0600 file), whoami, create --wait --out, feed, cameo
status, logout; the client package's own ``fabula`` hands the server's
commands over."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@pytest.fixture
def fabula(tmp_path):
    config = tmp_path / "conf" / "client.json"

    def run(*args: str, stdin: str | None = None, module: str = "cli.main", timeout: float = 300) -> subprocess.CompletedProcess:
        env = {**os.environ, "FABULA_CLIENT_CONFIG": str(config)}
        env.pop("FABULA_URL", None)
        return subprocess.run(
            [sys.executable, "-m", module, *args], input=stdin, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
        )

    run.config = config  # type: ignore[attr-defined]
    return run


def test_login_create_feed_cameo_status_logout(api, worker, fabula, tmp_path):
    name = "cli" + uuid.uuid4().hex[:10]
    signed = fabula("login", "--url", api.url, "--handle", name, "--signup", "--birth-date", "1990-01-01", "--password-stdin", stdin=PASSWORD + "\n")
    assert signed.returncode == 0, signed.stderr
    assert f"@{name}" in signed.stdout
    mode = stat.S_IMODE(fabula.config.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(fabula.config.parent.stat().st_mode) == 0o700
    assert PASSWORD not in fabula.config.read_text()

    who = fabula("whoami")
    assert who.returncode == 0 and who.stdout.strip() == f"@{name} on {api.url}", who.stdout + who.stderr

    out = tmp_path / "clip.mp4"
    made = fabula("create", "a paper boat drifting on a pond", "--seconds", "1", "--size", "64x64", "--wait", "--out", str(out))
    assert made.returncode == 0, made.stderr
    video_id = made.stdout.split()[0]
    assert video_id.startswith("video_") and "completed" in made.stderr and "step" in made.stderr
    assert out.read_bytes()[4:8] == b"ftyp"  # an MP4

    feed = fabula("feed", "--for-you", "--limit", "3")
    assert feed.returncode == 0, feed.stderr
    following = fabula("feed")
    assert following.returncode == 0 and "nothing here yet" in following.stdout

    status = fabula("cameo", "status")
    assert status.returncode == 0 and "no cameo yet" in status.stdout, status.stdout + status.stderr

    refused = fabula("create", "")  # the server's refusal, as a sentence and an exit status
    assert refused.returncode == 1 and "error:" in refused.stderr

    assert fabula("logout").returncode == 0
    assert not fabula.config.exists()
    after = fabula("feed")
    assert after.returncode == 2 and "fabula login" in after.stderr


def test_a_wrong_password_is_an_error_and_keeps_nothing(api, fabula):
    bad = fabula("login", "--url", api.url, "--handle", "nobody" + uuid.uuid4().hex[:6], "--password-stdin", stdin="wrong password\n")
    assert bad.returncode == 1 and "error:" in bad.stderr
    assert not fabula.config.exists()


def test_the_client_packages_fabula_hands_server_commands_over(fabula):
    server = fabula("admin", "--help", module="clients.fabula_client")
    assert server.returncode == 0 and "administrator" in server.stdout
    own = fabula("--help", module="clients.fabula_client")
    assert own.returncode == 0 and "login" in own.stdout and "worker" not in own.stdout
