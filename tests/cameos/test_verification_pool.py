"""The cameo checks' process pool (``cameos.verification``): its processes end
with the process that made the pool, even when that one is killed outright
(SIGKILL: no shutdown runs). Before, each killed api left its pool processes
behind, models loaded, for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# makes the pool (one process), has it run one call, prints that process's pid, then waits
MAKER = textwrap.dedent(
    """
    import os, sys, time
    from types import SimpleNamespace
    from cameos import verification

    pool = verification._executor(SimpleNamespace(cameo_workers=1))
    print(pool.submit(os.getpid).result(timeout=120), flush=True)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has ended; only its parent has not read its status yet
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_pool_process_ends_when_its_maker_is_killed():
    maker = subprocess.Popen([sys.executable, "-c", MAKER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(maker.stdout.readline())
        assert worker != maker.pid and _alive(worker)
        maker.send_signal(signal.SIGKILL)
        maker.wait(timeout=10)
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the pool process outlived the process that made it"
    finally:
        maker.kill()
        maker.wait()
