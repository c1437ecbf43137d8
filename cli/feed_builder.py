"""``fabula feed-builder``: one opening builder (``feed.live.opening_builder``),
ranking users' next for-you pages ahead of time, and the catalogue index's
writer (``feed.live.index_builder``: every public post's embedding in a
nearest-neighbour index under the data directory, which the api processes
memory-map); stops cleanly on SIGINT/SIGTERM. Several builders may run; give
one of them the index (``--no-index`` on the others).

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


def run_feed_builder(nice: int = 19, index: bool = True) -> int:
    # one BLAS thread, as in the api: ranking is many small products (set before NumPy loads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if nice:
        os.nice(nice)
    from core.stores import open_stores
    from feed.live.index_builder import IndexBuilder
    from feed.live.opening_builder import OpeningBuilder
    from feed.live.runtime import stop as stop_runtime

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="feed-builder")

    async def main() -> None:
        stores = open_stores(settings)
        builder = OpeningBuilder(stores)
        indexer = IndexBuilder(stores) if index else None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            builder.stop()
            if indexer is not None:
                indexer.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        try:
            await asyncio.gather(builder.run(), *([indexer.run()] if indexer is not None else []))
        finally:
            await stop_runtime(None)
            await stores.close()

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
    return 0
