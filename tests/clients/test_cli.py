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
    # a file that cannot be written: said as such (the video is made and kept)
    unwritable = fabula("create", "a paper boat", "--seconds", "1", "--size", "64x64", "--out", str(tmp_path / "no" / "such" / "x.mp4"))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr and "cannot reach" not in unwritable.stderr, unwritable.stderr

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


def test_the_commands_say_what_went_wrong_in_one_line(api, fabula, tmp_path):
    """Giving up waiting, a file that cannot be written, a config that is not
    one and a closed standard input are each one line and an exit status, no
    traceback; the default config folder is set back to 0700."""
    name = "cli" + uuid.uuid4().hex[:10]
    login = ("login", "--url", api.url, "--handle", name, "--password-stdin")
    assert fabula(*login, "--signup", "--birth-date", "1990-01-01", stdin=PASSWORD + "\n").returncode == 0

    # --timeout: the wait ends, the video goes on (a tiny timeout: it is not done by then)
    waited = fabula("create", "a lantern in fog", "--seconds", "1", "--size", "64x64", "--steps", "30", "--wait", "--timeout", "0.2")
    assert waited.returncode == 1 and "Traceback" not in waited.stderr, waited.stderr
    video_id = waited.stdout.split()[0]
    assert f"gave up waiting for {video_id} after 0.2 s" in waited.stderr, waited.stderr
    assert "cannot reach" not in waited.stderr

    # a config file that is not a client config
    for text in ("[]", "not json", '{"token": 5}'):
        fabula.config.write_text(text)
        broken = fabula("whoami")
        assert broken.returncode == 2 and "Traceback" not in broken.stderr, broken.stderr
        assert str(fabula.config) in broken.stderr and "fabula login" in broken.stderr, broken.stderr
    # logging in writes a good one over it
    again = fabula(*login, stdin=PASSWORD + "\n")
    assert again.returncode == 0, again.stderr
    assert fabula("whoami").returncode == 0

    # no handle given and standard input closed
    closed = fabula("login", "--url", api.url, stdin="")
    assert closed.returncode == 2 and "Traceback" not in closed.stderr and "--handle" in closed.stderr, closed.stderr


def test_the_default_config_folder_is_kept_private(api, tmp_path):
    home = tmp_path / "home"
    folder = home / "fabula"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("FABULA_CLIENT_CONFIG", "FABULA_URL")}
    env["XDG_CONFIG_HOME"] = str(home)
    name = "cli" + uuid.uuid4().hex[:10]
    args = ["login", "--url", api.url, "--handle", name, "--signup", "--birth-date", "1990-01-01", "--password-stdin"]
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args], input=PASSWORD + "\n", capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "client.json").stat().st_mode) == 0o600
