"""The feed's per-process runtime: the parts an api process (or an opening
builder) keeps in memory, the one Redis subscription that keeps them
current, and their lifecycle.

The parts:

* ``pool``: the candidate pool (``feed.ranking.pool``), refreshed every
  ``POOL_REFRESH_S`` and re-read a slice at a time (all at once after a
  missed message);
* ``catalogue``: the catalogue index the feed builder writes, memory-mapped
  (``feed.live.catalogue``): the similar source beyond the pool;
* ``hub``: the live counts (``feed.live.counts_hub``);
* ``viewers``: the graph around each viewer (``feed.live.viewer_cache``);
* ``authors``: authors' public profiles (``feed.live.author_cache``), whose
  pool authors are read ahead after each refresh (``warm_authors``);
* ``views``: view counters batched per process (``feed.social.view_batches``);
* ``shortlists``, ``seen_memory`` and ``rebuild_slots``: what the for-you
  sessions of the process share (``feed.serving.for_you.Shared``,
  ``feed.serving.seen_memory``, ``feed.serving.rebuild_slots``).

The subscription (``core.subscription``) carries the live counters, post
edits and deletes (``feed.social.post_changes``, applied to the pool) and
follow/block changes (``accounts.graph.CHANGES``, which drop the viewer's
cached graph). After a reconnect, when messages may have been missed, the
graph cache is dropped and the pool read again.

Started with the app (``start``/``stop`` in the lifespan): the pool is
loaded and the subscriber is live before the first request. A process that
did not run the lifespan (a test app) starts it on first use (``ready``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

from accounts import graph
from core import gc_clock
from core.stores import Stores
from core.subscription import Subscription
from feed.live.author_cache import AuthorCache
from feed.live.background import Background
from feed.live.catalogue import CatalogueReader
from feed.live.counts_hub import CountsHub
from feed.live.viewer_cache import ViewerCache
from feed.ranking.pool import PostPool
from feed.serving import sessions
from feed.serving.for_you import Shared
from feed.serving.rebuild_slots import RebuildSlots
from feed.serving.seen_memory import SeenMemory
from feed.social import post_changes
from feed.social.view_batches import ViewBatches

log = logging.getLogger("fabula.feed")

POOL_SIZE = 5000
POOL_REFRESH_S = 2.0  # new posts reach the pool within about this long
COUNTS_RESYNC_S = 60.0  # the pool's counters and posts are re-read over about this long, a slice per refresh (all at once after a missed message)


class FeedRuntime:
    def __init__(self, stores: Stores, *, pool_size: int = POOL_SIZE):
        self.stores = stores
        self.pool = PostPool(stores, size=pool_size)
        self.hub = CountsHub(stores, on_counts=self.pool.update_counts)
        self.catalogue = CatalogueReader(stores, self.pool)
        self.background = Background()
        self.viewers = ViewerCache(stores, self.background)
        self.authors = AuthorCache(stores, self.background)
        self.subscription = Subscription(
            stores,
            {
                self.hub.channel: self.hub.deliver,
                post_changes.CHANGES.key(stores): post_changes.CHANGES.receive,
                graph.CHANGES.key(stores): graph.CHANGES.receive,
                sessions.MOVED.key(stores): sessions.MOVED.receive,
            },
            name="feed-fanout",
            on_connect=self._catch_up,
        )
        self._unlisten: list[Callable[[], None]] = []
        self.views = ViewBatches(stores)
        self.shortlists: dict[str, Shared] = {}  # each user's last shareable shortlist (feed.serving.for_you.Shared)
        self.seen_memory = SeenMemory()  # posts seen checks found seen, per user (feed.serving.seen_memory)
        self.rebuild_slots = RebuildSlots()  # deferred shortlist rebuilds at once (feed.serving.rebuild_slots)
        self.freeze_heap = True
        self._stale = False  # messages may have been missed: re-read the pool soon
        self.loop = asyncio.get_running_loop()
        self.warm_authors = True  # read the pool's authors ahead (a process that renders no items turns it off)
        self._task: asyncio.Task | None = None
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._unlisten = [post_changes.CHANGES.listen(self.pool.apply), graph.CHANGES.listen(self.viewers.graph_changed)]
        self.hub.start()
        self.views.start()
        # the first load reads the newest posts with their embeddings: seconds on a
        # big collection, so it runs in the background; feed requests wait for it
        self._task = asyncio.create_task(self._maintain(), name="feed-pool")
        await self.subscription.wait_ready()

    async def stop(self) -> None:
        for stop_listening in self._unlisten:
            stop_listening()
        await self.subscription.stop()
        self.background.cancel()
        self.catalogue.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.hub.stop()
        await self.views.close()

    async def _maintain(self) -> None:
        while True:
            try:
                await self.pool.refresh(max_age=POOL_REFRESH_S / 2)
                if self.freeze_heap:
                    self.freeze_heap = False
                    gc_clock.freeze_startup_heap()  # the pool is in: start-up is done
                if self._stale:
                    self._stale = False
                    await self.pool.resync_counts()
                    await self.pool.revalidate()
                else:
                    await self.pool.reread_next(math.ceil(len(self.pool) * POOL_REFRESH_S / COUNTS_RESYNC_S))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed pool refresh failed")
            try:
                if self.warm_authors:
                    await self.authors.warm(self.pool.by_author)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("authors: reading the pool's ahead failed")
            await asyncio.sleep(POOL_REFRESH_S)

    def _catch_up(self) -> None:
        """The subscription (re)connected: what was published meanwhile is lost."""
        if self.subscription.connects > 1:
            self.viewers.forget_all()
            self._stale = True


_runtime: FeedRuntime | None = None


def runtime(stores: Stores) -> FeedRuntime:
    """This process's feed runtime (one per event loop and stores)."""
    global _runtime
    loop = asyncio.get_running_loop()
    if _runtime is None or _runtime.loop is not loop or _runtime.stores is not stores:
        _runtime = FeedRuntime(stores)
    return _runtime


async def ready(stores: Stores) -> FeedRuntime:
    rt = runtime(stores)
    await rt.start()
    return rt


async def start(app) -> None:
    await ready(app.state.stores)


async def stop(app) -> None:
    global _runtime
    if _runtime is not None:
        await _runtime.stop()
        _runtime = None
