"""The embedded servers stop when the process that started them is killed
outright (``core.orphan_guard``), and behave as plain children otherwise."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from core.embedded import start_valkey

ROOT = Path(__file__).resolve().parents[2]

STARTER = """
import json, sys, time
from pathlib import Path
from core.embedded import EmbeddedServices
services = EmbeddedServices.start(Path(sys.argv[1]))
print(json.dumps({"valkey": [services.valkey.proc.pid, services.valkey.port],
                  "mongo": [services.mongo.proc.pid, services.mongo.port]}), flush=True)
time.sleep(600)
"""


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def watchers_of(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children() if "orphan_guard" in " ".join(p.cmdline())]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_servers_stop_when_the_process_that_started_them_dies_without_stopping_them(tmp_path, how):
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "data")], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        started = json.loads(starter.stdout.readline())
        servers = {name: pid for name, (pid, _) in started.items()}
        ports = [port for _, port in started.values()]
        assert all(running(pid) for pid in servers.values()) and all(listening(p) for p in ports)
        # the pid is the server's own, not a wrapper's
        assert "valkey" in psutil.Process(servers["valkey"]).name()
        assert "nx-27017" in " ".join(psutil.Process(servers["mongo"]).cmdline())

        starter.send_signal(how)  # neither lets the starter stop its servers
        starter.wait(10)
        assert wait_until(lambda: not any(running(pid) for pid in servers.values())), {
            name: running(pid) for name, pid in servers.items()
        }
        assert not any(listening(p) for p in ports)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        for pid in locals().get("servers", {}).values():
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_stopped_server_leaves_no_watcher_and_a_crashed_one_is_seen_as_exited(tmp_path):
    first = start_valkey(tmp_path / "a")
    watchers = watchers_of(first.proc.pid)
    assert len(watchers) == 1
    first.stop()
    assert first.proc.returncode is not None
    assert wait_until(lambda: not any(running(w.pid) for w in watchers))

    second = start_valkey(tmp_path / "b")
    watchers = watchers_of(second.proc.pid)
    os.kill(second.proc.pid, signal.SIGKILL)  # a crash: the parent sees its child exit, as without the guard
    assert second.proc.wait(10) == -signal.SIGKILL
    assert wait_until(lambda: not any(running(w.pid) for w in watchers))
    second.stop()  # stopping a dead server is harmless
    assert second.guard is not None and second.guard.lifeline == -1


def test_a_server_still_stops_while_its_parent_lives(tmp_path):
    service = start_valkey(tmp_path / "v")
    service.stop()
    assert not listening(service.port)
    assert not running(service.proc.pid)
