"""A server that outlives the process which started it is stopped.

The embedded servers (``core.embedded``) run in sessions of their own, so
that a terminal's Ctrl-C reaches their parent first and the parent stops
them last. The price was that a parent killed outright (SIGKILL, an
out-of-memory kill, a CI timeout's SIGTERM to a test run that does not
clean up) left them running, holding their ports and data files.

``spawn`` starts a server through this module: a small Python process that
forks a watcher and then replaces itself with the server (``exec``), so the
``Popen``'s pid is the server's own and signals, ``wait`` and ``poll`` work
on it as before. The parent keeps the write end of a pipe whose read end
only the watcher holds; the kernel closes it when the parent's process
ends, however it ends, and the watcher then stops the server (SIGTERM,
then SIGKILL after a grace period, ``GRACE_S`` unless told). The watcher leaves by itself when the
server exits. A child the parent forks without ``exec`` inherits the
write end and keeps the servers up until it too ends.

Linux only (``os.pidfd_open``); run as a script, with the standard library
alone: ``python orphan_guard.py FD GRACE_S -- COMMAND ARGS...``."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

GRACE_S = 10.0


@dataclass
class Guarded:
    """A server started by ``spawn`` and the end of the pipe that keeps it alive."""

    proc: subprocess.Popen
    lifeline: int  # the write end: closed when this process ends, or by ``release``

    def release(self) -> None:
        """Close the lifeline (after the server has stopped; a server still
        running is stopped by its watcher)."""
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1


def spawn(args: list[str], *, grace_s: float = GRACE_S, **popen: Any) -> Guarded:
    """Start ``args`` as with ``subprocess.Popen(args, **popen)``, stopped when
    this process ends (SIGTERM, then SIGKILL after ``grace_s``). ``pass_fds``
    and ``preexec_fn`` are not supported."""
    if "pass_fds" in popen or "preexec_fn" in popen:
        raise ValueError("spawn passes a descriptor of its own; pass_fds and preexec_fn are not supported")
    read_end, write_end = os.pipe()  # neither is inherited but as pass_fds says
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(read_end), repr(float(grace_s)), "--", *args], pass_fds=(read_end,), **popen
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return Guarded(proc, write_end)


def _wait_readable(fds: list[int], timeout: float | None = None) -> list[int]:
    while True:
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
            return ready
        except InterruptedError:  # pragma: no cover - retried by Python itself since 3.5
            continue


def _watch(lifeline: int, server: int, grace_s: float) -> None:
    """The watcher: stop ``server`` when the lifeline closes; leave when the server exits."""
    try:
        gone = os.pidfd_open(server)
    except ProcessLookupError:
        os._exit(0)
    ready = _wait_readable([lifeline, gone])
    if gone in ready:
        os._exit(0)
    # the parent is gone: stop the server
    try:
        os.kill(server, signal.SIGTERM)
    except ProcessLookupError:
        os._exit(0)
    if not _wait_readable([gone], grace_s):
        try:
            os.kill(server, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os._exit(0)


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        sys.exit("usage: orphan_guard.py FD GRACE_S -- COMMAND ARGS...")
    lifeline, grace_s, command = int(argv[0]), float(argv[1]), argv[3:]
    server = os.getpid()
    if os.fork() == 0:
        _watch(lifeline, server, grace_s)
    os.close(lifeline)  # the server holds no end of the pipe
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
