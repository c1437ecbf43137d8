"""Starting and stopping the project's own processes (api, worker) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.embedded import free_port
from core.settings import Settings, settings_env


@dataclass
class Proc:
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-20000:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings_env(settings))
    env.update(extra)
    return env


def spawn(args: list[str], settings: Settings, log_path: Path, **extra: str) -> Proc:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=child_env(settings, **extra),
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    return Proc(proc, log_path)


@dataclass
class Api(Proc):
    url: str = ""


def start_api(settings: Settings, log_dir: Path, port: int | None = None, timeout: float = 60.0, **extra: str) -> Api:
    port = port or free_port()
    p = spawn(["api", "--port", str(port)], settings, log_dir / f"api-{port}.log", **extra)
    api = Api(p.proc, p.log_path, url=f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.proc.poll() is not None:
            raise RuntimeError(f"api exited early:\n{api.log()}")
        try:
            if httpx.get(api.url + "/readyz", timeout=1.0).status_code == 200:
                return api
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    api.stop()
    raise TimeoutError(f"api not ready after {timeout}s:\n{api.log()}")


def start_worker(settings: Settings, log_dir: Path, name: str = "w1", **extra: str) -> Proc:
    # one torch thread: the test machine's cores are shared with the api and the databases
    extra = {"FABULA_GEN_THREADS": "1", **extra}
    return spawn(["worker", "--name", name], settings, log_dir / f"worker-{name}.log", **extra)
