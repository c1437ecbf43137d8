"""``fabula worker``: one generation worker; stops cleanly on SIGINT/SIGTERM
(the job in hand is finished first). Each job's cameos are checked again
at pickup (``cameos.admission``). Runs on uvloop when it is installed."""

from __future__ import annotations

import asyncio
import signal

from core.logs import setup_logging
from core.settings import load_settings


def loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_worker(name: str | None = None) -> int:
    from cameos.admission import refusal
    from gen.worker import Worker

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="worker")
    worker = Worker(settings, name=name, admission=refusal)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
    return 0
