"""Which ASGI server should run the api: uvicorn (uvloop + httptools) or granian?

Starts embedded Valkey + nx-27017 in a temporary directory, then serves the
real app (``server.app:create_app``, JSON request logging on, as ``fabula api``
runs it) under each server in turn, one worker process each, on a free
loopback port, and drives it with wrk. Both servers are measured in the same
run, interleaved round by round, because these machines are noisy.

For each server it reports:
  * lifespan: /readyz answers 200 (startup opened Mongo and Redis), and
    SIGTERM ends the process cleanly (shutdown ran);
  * WebSocket: an upgrade to a route that does not exist is refused with a
    4xx (not a 500), and a bench-only echo route does real round trips;
  * GET /healthz and GET /readyz throughput with wrk: req/s, p50, p99.

Usage (from the repository root):
    .venv/bin/python bench/http_server.py [--duration 10] [--connections 32]
        [--threads 2] [--rounds 2] [--servers uvicorn,granian]

Needs wrk (Debian: ``apt-get install -y wrk``) and, for the granian side,
``pip install 'granian[uvloop]'``. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ECHO_PATH = "/bench/echo"


# --- the app as served (imported by the server processes) -----------------


def make_app():
    """``fabula api``'s app with its logging, plus a bench-only WebSocket echo."""
    from litestar import WebSocket, websocket

    from core.logs import setup_logging
    from core.settings import load_settings
    from server.app import create_app

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="api")  # as cli/api.py does

    @websocket(ECHO_PATH)
    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        while True:
            message = await socket.receive_text()
            await socket.send_text(message)

    app = create_app(settings)
    app.register(echo)
    return app


# --- servers ---------------------------------------------------------------


def uvicorn_command(port: int) -> list[str]:
    # The same options cli/api.py passes to uvicorn.run.
    return [
        sys.executable, "-m", "uvicorn", "http_server:make_app", "--factory",
        "--app-dir", str(BENCH_DIR),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets",
        "--lifespan", "on", "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]


def granian_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "granian", "http_server:make_app", "--factory",
        "--working-dir", str(BENCH_DIR),
        "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--loop", "uvloop", "--no-access-log", "--workers-kill-timeout", "5",
    ]


SERVERS = {"uvicorn": uvicorn_command, "granian": granian_command}


def server_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


@dataclass
class Running:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def start_server(name: str, env: dict[str, str], log_dir: Path, timeout: float = 60.0) -> Running:
    import httpx

    from core.embedded import free_port

    port = free_port()
    log_path = log_dir / f"{name}-{port}.log"
    with open(log_path, "wb") as handle:
        proc = subprocess.Popen(
            SERVERS[name](port), env=env, cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(name, port, proc, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode} before it was ready:\n{running.log_tail()}")
        try:
            if httpx.get(running.url + "/readyz", timeout=1.0).status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(running)
    raise TimeoutError(f"{name}: /readyz did not answer 200 within {timeout}s:\n{running.log_tail()}")


def stop_server(running: Running, timeout: float = 15.0) -> tuple[int | None, float]:
    """SIGTERM, wait; returns (exit code, seconds taken). Kills the group if it hangs.

    uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a
    clean exit too."""
    started = time.monotonic()
    if running.proc.poll() is None:
        running.proc.send_signal(signal.SIGTERM)
        try:
            running.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(running.proc.pid, signal.SIGKILL)
            running.proc.wait()
            return None, time.monotonic() - started
    return running.proc.returncode, time.monotonic() - started


# --- checks ----------------------------------------------------------------


def websocket_checks(running: Running, round_trips: int = 2000) -> dict[str, object]:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    ws_url = f"ws://127.0.0.1:{running.port}"
    out: dict[str, object] = {}
    try:
        with connect(ws_url + "/v1/no-such-socket", open_timeout=5):
            out["missing_route_status"] = 101
    except InvalidStatus as exc:
        out["missing_route_status"] = exc.response.status_code
    except Exception as exc:  # a dropped connection is a failure too
        out["missing_route_status"] = f"error: {exc!r}"

    try:
        with connect(ws_url + ECHO_PATH, open_timeout=5) as socket:
            payload = "x" * 64
            started = time.perf_counter()
            for i in range(round_trips):
                socket.send(payload)
                if socket.recv(timeout=5) != payload:
                    raise AssertionError(f"echo {i} came back different")
            elapsed = time.perf_counter() - started
        out["echo_round_trips_per_s"] = round(round_trips / elapsed)
    except Exception as exc:
        out["echo_round_trips_per_s"] = f"error: {exc!r}"
    return out


# --- wrk -------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int = 0
    socket_errors: str = ""


def run_wrk(url: str, duration: int, connections: int, threads: int) -> WrkResult:
    proc = subprocess.run(
        ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", url],
        capture_output=True, text=True, timeout=duration + 60,
    )
    text = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or text}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    bad_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors_match = re.search(r"Socket errors:(.*)", text)
    return WrkResult(
        rps=rps, p50_ms=p50, p99_ms=p99, requests=requests,
        bad=int(bad_match.group(1)) if bad_match else 0,
        socket_errors=errors_match.group(1).strip() if errors_match else "",
    )


# --- the run ---------------------------------------------------------------


@dataclass
class Tally:
    results: dict[str, list[WrkResult]] = field(default_factory=dict)

    def add(self, path: str, result: WrkResult) -> None:
        self.results.setdefault(path, []).append(result)

    def median(self, path: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.results[path])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per server (default 2)")
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--paths", default="/healthz,/readyz", help="comma-separated GET paths")
    parser.add_argument("--log-level", default="INFO",
                        help="FABULA_LOG_LEVEL of the servers; INFO (default) logs one JSON line per request")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print("wrk is not installed: this benchmark needs it (Debian: apt-get install -y wrk).", file=sys.stderr)
        return 2
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for name in servers:
        if name not in SERVERS:
            print(f"unknown server {name!r}; choose from {sorted(SERVERS)}", file=sys.stderr)
            return 2
        if server_version(name) == "not installed":
            hint = "pip install 'granian[uvloop]'" if name == "granian" else "pip install 'uvicorn[standard]'"
            print(f"{name} is not installed ({hint}).", file=sys.stderr)
            return 2
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]

    from core.embedded import EmbeddedServices

    with tempfile.TemporaryDirectory(prefix="fabula-bench-http-") as tmp:
        tmp_path = Path(tmp)
        services = EmbeddedServices.start(tmp_path / "services")
        try:
            env = dict(os.environ)
            env.update(
                FABULA_MONGO_URL=services.mongo_url,
                FABULA_REDIS_URL=services.redis_url,
                FABULA_NAMESPACE="bench" + uuid.uuid4().hex[:8],
                FABULA_DATA_DIR=str(tmp_path / "data"),
                FABULA_LOG_LEVEL=args.log_level,
                FABULA_LOG_JSON="true",
            )
            logs = tmp_path / "logs"
            logs.mkdir()
            print(f"machine: {os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}")
            print("servers: " + ", ".join(f"{n} {server_version(n)}" for n in servers))
            print(f"wrk: {args.duration}s, -c{args.connections} -t{args.threads}, {args.rounds} interleaved rounds,"
                  f" paths {paths}, server log level {args.log_level}")

            tallies = {name: Tally() for name in servers}
            checks: dict[str, dict[str, object]] = {name: {"shutdown": []} for name in servers}
            for round_no in range(1, args.rounds + 1):
                # Fresh processes each round, all up at once (idle while the
                # other is measured); the servers take turns on each path, in
                # alternating order, so that a neighbour's load falls on both.
                order = servers if round_no % 2 else servers[::-1]
                running: dict[str, Running] = {}
                try:
                    for name in order:
                        running[name] = start_server(name, env, logs)
                        if round_no == 1:
                            checks[name].update(websocket_checks(running[name]))
                        # Warm-up: let the app and its connection pools settle.
                        run_wrk(running[name].url + paths[0], 2, args.connections, args.threads)
                    for path in paths:
                        for name in order:
                            result = run_wrk(running[name].url + path, args.duration, args.connections, args.threads)
                            tallies[name].add(path, result)
                            flag = f"  non-2xx {result.bad}" if result.bad else ""
                            flag += f"  socket errors: {result.socket_errors}" if result.socket_errors else ""
                            print(
                                f"round {round_no} {name:8} GET {path:9} {result.rps:9.0f} req/s"
                                f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms{flag}",
                                flush=True,
                            )
                finally:
                    for name, proc in running.items():
                        code, took = stop_server(proc)
                        checks[name]["shutdown"].append(
                            f"exit {code} in {took:.1f}s" if code is not None else f"killed after {took:.1f}s"
                        )
                        if code not in (0, -signal.SIGTERM):
                            print(f"{name} did not stop cleanly:\n{proc.log_tail()}", file=sys.stderr)
        finally:
            services.stop()

    print()
    print("summary (median of rounds)")
    print(f"{'server':8} {'path':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name in servers:
        for path in paths:
            t = tallies[name]
            print(f"{name:8} {path:9} {t.median(path, 'rps'):9.0f} {t.median(path, 'p50_ms'):8.2f} {t.median(path, 'p99_ms'):8.2f}")
    if "uvicorn" in tallies and "granian" in tallies:
        for path in paths:
            g, u = tallies["granian"].results[path], tallies["uvicorn"].results[path]
            paired = sorted(a.rps / b.rps for a, b in zip(g, u))
            ratio = tallies["granian"].median(path, "rps") / tallies["uvicorn"].median(path, "rps")
            print(f"granian/uvicorn throughput on GET {path}: {ratio:.2f}x of the medians;"
                  f" per round {', '.join(f'{r:.2f}' for r in paired)} (median {statistics.median(paired):.2f}x)")
    print()
    for name, found in checks.items():
        print(f"{name}: /readyz 200 after startup: yes; ws upgrade to a missing route -> {found['missing_route_status']};"
              f" ws echo {found['echo_round_trips_per_s']} round trips/s; shutdown {', '.join(found['shutdown'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
