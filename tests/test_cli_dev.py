"""``fabula dev`` runs the whole house as one process tree and stops it together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil

from core.embedded import free_port


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("dev", "api", "worker", "feed-builder"):
        assert command in out


def test_dev_serves_and_stops_every_child_on_sigterm(tmp_path, model_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABULA_")}
    env["FABULA_MODEL_DIR"] = str(model_dir)
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dev", "--port", str(port), "--data", str(tmp_path / "var")],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if r.status_code == 200 and r.json()["checks"] == {"mongo": True, "redis": True}:
                    ready = True
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert ready, (tmp_path / "dev.log").read_text()[-4000:]
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "valkey-server" in names and "nx-27017" in names and " api " in names + " " and "worker" in names
        assert "feed-builder" in names
        # data lands under --data
        assert (tmp_path / "var" / "services" / "valkey" / "appendonlydir").exists()
        assert (tmp_path / "var" / "services" / "mongo" / "mongo.sqlite").exists()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [c.cmdline() for c in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
