"""``fabula dev``: embedded Valkey and nx-27017, the api, one worker and one
feed builder as one process tree. Data lives under ``--data`` (./var by default) and survives
restarts. Ctrl-C or SIGTERM stops every child, workers first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from core.embedded import EmbeddedServices
from core.settings import load_settings, settings_env


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], env=env, stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, api: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and api.poll() is None:
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _servers_file(data_dir: Path) -> Path:
    return data_dir / "services" / "running.json"


def running_dev_env(data_dir: Path) -> dict[str, str] | None:
    """The FABULA_* variables that reach the servers of the ``fabula dev``
    running under ``data_dir`` (for commands such as ``fabula admin``), or None."""
    try:
        return json.loads(_servers_file(data_dir.resolve()).read_text())
    except (OSError, ValueError):
        return None


def run_dev(port: int, data: str, host: str = "127.0.0.1") -> int:
    data_dir = Path(data).resolve()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    services = EmbeddedServices.start(data_dir / "services")
    children: list[subprocess.Popen] = []
    try:
        base = load_settings()
        env = dict(os.environ)
        env.update(settings_env(base))
        for name in ("FABULA_OPENAPI", "FABULA_METRICS_PUBLIC"):  # the development surface, unless set otherwise
            env[name] = os.environ.get(name, "true")
        env.update(
            FABULA_MONGO_URL=services.mongo_url,
            FABULA_REDIS_URL=services.redis_url,
            FABULA_DATA_DIR=str(data_dir),
        )
        _servers_file(data_dir).write_text(json.dumps({k: env[k] for k in ("FABULA_MONGO_URL", "FABULA_REDIS_URL", "FABULA_NAMESPACE")}))
        api = _spawn(["api", "--host", host, "--port", str(port)], env)
        worker = _spawn(["worker", "--name", "dev-worker"], env)
        builder = _spawn(["feed-builder"], env)
        children = [worker, builder, api]
        url = f"http://{host}:{port}"
        if not _wait_ready(url, api):
            print("fabula dev: the api did not become ready; see its log above", file=sys.stderr)
            return 1
        print(f"fabula dev: serving on {url}  (data in {data_dir}; Ctrl-C stops everything)", flush=True)
        while not stop.is_set():
            dead = [c for c in children if c.poll() is not None]
            if dead:
                print(f"fabula dev: {dead[0].args[3]} exited with {dead[0].returncode}; stopping", file=sys.stderr)
                return 1
            stop.wait(0.5)
        return 0
    finally:
        for child in children:  # worker and builder first, then api
            _stop(child)
        _servers_file(data_dir).unlink(missing_ok=True)
        services.stop()
