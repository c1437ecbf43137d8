"""``fabula dev``: embedded Valkey and nx-27017, the api, one worker and one
feed builder as one process tree. With ``--api-procs N`` it runs N api
processes on the one port, each binding it with ``SO_REUSEPORT``
(``fabula api --reuse-port``): the kernel spreads connections over them.
Data lives under ``--data`` (./var by default) and survives restarts.

It prints the URL once the api answers ``/readyz`` and a worker is ready
(its model loaded), so the first video does not wait for one. Ctrl-C or
SIGTERM stops everything in order: the worker first (it takes no more jobs,
gives a running one ``FABULA_WORKER_STOP_GRACE_S`` to finish, then hands it
back to its lane, where the next start takes it at once), then the feed
builder and the api, then Valkey and nx-27017. The children run in their own
sessions, so a terminal's Ctrl-C reaches only this process, which stops them
in that order. Killed outright (SIGKILL, an out-of-memory kill), it stops
nothing itself: each child's watcher (``core.orphan_guard``) stops it, the
worker with its grace period.

While it serves, a child that exits on its own (killed, crashed, or
stopped by a signal sent to it alone) is started again, and so is Valkey or
nx-27017, on the same port and data: a killed worker's job is taken over by
the new worker after ``FABULA_JOB_VISIBILITY_MS``, and the other children
keep serving. A child that exits ``RESTARTS_PER_MINUTE`` times within a
minute is not started again: then everything stops, as a crash loop
needs a person."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from core import orphan_guard
from core.embedded import EmbeddedServices
from core.settings import load_settings, settings_env

# beyond the worker's grace period: its pipeline stops at the next step, then it exits
WORKER_STOP_MARGIN_S = 15.0
STOP_TIMEOUT_S = 10.0
RESTARTS_PER_MINUTE = 5


def _spawn(args: list[str], env: dict[str, str], lifelines: list[orphan_guard.Guarded], grace_s: float = STOP_TIMEOUT_S) -> subprocess.Popen:
    # a session of its own: the terminal's Ctrl-C goes to `fabula dev`, which stops children in order;
    # stopped by its watcher if `fabula dev` dies without stopping it
    guarded = orphan_guard.spawn(
        [sys.executable, "-m", "cli.main", *args], grace_s=grace_s, env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )
    lifelines.append(guarded)
    return guarded.proc


class Supervised:
    """A child of ``fabula dev`` that is started again when it exits on its own."""

    def __init__(self, args: list[str], env: dict[str, str], lifelines: list[orphan_guard.Guarded], grace_s: float = STOP_TIMEOUT_S):
        self.args, self.env, self.lifelines, self.grace_s = args, env, lifelines, grace_s
        self.proc = _spawn(args, env, lifelines, grace_s)
        self.exits: collections.deque[float] = collections.deque()

    @property
    def name(self) -> str:
        return self.args[0]

    def restart(self) -> bool:
        """Start it again after it exited; False when it has exited too often to go on."""
        now = time.monotonic()
        self.exits.append(now)
        while self.exits and self.exits[0] < now - 60:
            self.exits.popleft()
        if len(self.exits) >= RESTARTS_PER_MINUTE:
            return False
        for old in [g for g in self.lifelines if g.proc is self.proc]:  # its watcher left with it
            old.release()
            self.lifelines.remove(old)
        self.proc = _spawn(self.args, self.env, self.lifelines, self.grace_s)
        return True


def _name(child: subprocess.Popen) -> str:
    """The command a child runs ("api", "worker", "feed-builder")."""
    args = list(child.args)
    return args[args.index("cli.main") + 1]


def _stop(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str) -> tuple[bool, int]:
    """(the api is ready, generation workers ready)."""
    try:
        r = httpx.get(url + "/readyz", timeout=1.0)
    except httpx.HTTPError:
        return False, 0
    if r.status_code != 200:
        return False, 0
    return True, int(r.json().get("workers") or 0)


def _wait_ready(url: str, children: list[subprocess.Popen], stop: threading.Event, timeout: float = 300.0) -> str | None:
    """Wait until the api answers and a worker is ready; None, or why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stop.is_set():
            return "stopped while starting"
        for child in children:
            if child.poll() is not None:
                return f"{_name(child)} exited with {child.returncode}; see its log above"
        api_ready, workers = _ready(url)
        if api_ready and workers > 0:
            return None
        stop.wait(0.2)
    return "the api or the worker did not become ready; see the log above"


def _servers_file(data_dir: Path) -> Path:
    return data_dir / "services" / "running.json"


def running_dev_env(data_dir: Path) -> dict[str, str] | None:
    """The FABULA_* variables that reach the servers of the ``fabula dev``
    running under ``data_dir`` (for commands such as ``fabula admin``), or None."""
    try:
        return json.loads(_servers_file(data_dir.resolve()).read_text())
    except (OSError, ValueError):
        return None


def run_dev(port: int, data: str, host: str = "127.0.0.1", api_procs: int = 1) -> int:
    data_dir = Path(data).resolve()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    base = load_settings()
    services = EmbeddedServices.start(data_dir / "services")
    worker = builder = None
    apis: list[subprocess.Popen] = []
    lifelines: list[orphan_guard.Guarded] = []
    try:
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
        shared = ["--reuse-port"] if api_procs > 1 else []
        apis = [Supervised(["api", "--host", host, "--port", str(port), *shared], env, lifelines) for _ in range(max(1, api_procs))]
        worker = Supervised(["worker", "--name", "dev-worker"], env, lifelines, base.worker_stop_grace_s + WORKER_STOP_MARGIN_S)
        builder = Supervised(["feed-builder"], env, lifelines)
        children = [worker, builder, *apis]
        url = f"http://{host}:{port}"
        problem = _wait_ready(url, [c.proc for c in children], stop)
        if problem is not None:
            if stop.is_set():
                return 0
            print(f"fabula dev: {problem}", file=sys.stderr)
            return 1
        procs = f", {len(apis)} api processes" if len(apis) > 1 else ""
        print(f"fabula dev: serving on {url}  (data in {data_dir}{procs}; Ctrl-C stops everything)", flush=True)
        while not stop.is_set():
            for child in children:
                code = child.proc.poll()
                if code is None or stop.is_set():
                    continue
                if not child.restart():
                    print(f"fabula dev: {child.name} exited {RESTARTS_PER_MINUTE} times within a minute (last: {code}); stopping", file=sys.stderr)
                    return 1
                print(f"fabula dev: {child.name} exited with {code}; started it again", file=sys.stderr, flush=True)
            try:
                for name in services.revive():
                    print(f"fabula dev: {name} had stopped; started it again on the same port", file=sys.stderr, flush=True)
            except Exception as exc:  # its port taken meanwhile, say: the next round tries again
                print(f"fabula dev: could not start a server again ({exc}); trying again", file=sys.stderr, flush=True)
            stop.wait(0.5)
        print("fabula dev: stopping", flush=True)
        return 0
    finally:
        # no more jobs taken, the running one finished or handed back; then the rest; then the servers
        if worker is not None:
            _stop(worker.proc, base.worker_stop_grace_s + WORKER_STOP_MARGIN_S)
        for child in (builder, *apis):
            if child is not None:
                _stop(child.proc)
        for lifeline in lifelines:
            lifeline.release()
        _servers_file(data_dir).unlink(missing_ok=True)
        services.stop()
