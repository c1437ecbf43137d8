"""``fabula feed-builder``: one opening builder (``feed.live.opening_builder``),
ranking users' next for-you pages ahead of time; stops cleanly on SIGINT/SIGTERM.

It runs at the lowest CPU priority (``--nice``, 19 by default): its
work is ahead of need, so where both share cores the api's requests go
first. A builder that falls behind costs no correctness: pages it has not
made are ranked in the api, as without a builder."""

from __future__ import annotations

import asyncio
import os
import signal

from cli.worker import loop_factory
from core.logs import setup_logging
from core.settings import load_settings


def run_feed_builder(nice: int = 19) -> int:
    # one BLAS thread, as in the api: ranking is many small products (set before NumPy loads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if nice:
        os.nice(nice)
    from core.stores import open_stores
    from feed.live.opening_builder import OpeningBuilder
    from feed.live.runtime import stop as stop_runtime

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="feed-builder")

    async def main() -> None:
        stores = open_stores(settings)
        builder = OpeningBuilder(stores)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, builder.stop)
        try:
            await builder.run()
        finally:
            await stop_runtime(None)
            await stores.close()

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
    return 0
