"""The feed's per-process state: the candidate pool (``feed.ranking.pool``), the live
counts (``server.live_counts``), the one Redis subscription that keeps them
and the caches current (``server.fanout``), and short-lived caches of the
graph around each viewer and of authors' public profiles.

Started with the app (``start``/``stop`` in the lifespan): the pool is loaded
and the subscriber is live before the first request. A process that did not
run the lifespan (a test app) starts it on first use.

This is also where the server joins the follow/block graph (``accounts``)
with the feed: ``viewer`` reads the graph around a user (the ranker's block
and visibility checks run against it), ``visible`` is the visibility gate
of the following feed and of resent items (``server.post_views``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

from accounts import graph, graph_cache
from accounts.graph import GraphChange
from accounts.users import get_users
from core.stores import Stores
from feed.ranking.candidates import Viewer
from feed.ranking.features import build_table
from feed.ranking.pool import PostPool
from feed.serving.for_you import Shared
from feed.serving.seen_memory import SeenMemory
from feed.social import post_changes
from feed.social.posts import Post
from feed.social.view_batches import ViewBatches
from policy.visibility import can_view_post
from server import heap
from server.fanout import Subscription
from server.live_counts import CountsHub
from server.post_views import Author, post_not_found, visible_post, visible_posts

log = logging.getLogger("fabula.feed")

POOL_SIZE = 5000
POOL_REFRESH_S = 2.0  # new posts reach the pool within about this long
COUNTS_RESYNC_S = 60.0  # the pool's counters and posts are re-read over about this long, a slice per refresh (all at once after a missed message)
VIEWER_TTL_S = 30.0  # the graph around a user is re-read this often (and at once when an edge of theirs changes)
FOF_TTL_S = 60.0  # friends of friends, read in the background, are kept this long
AUTHOR_TTL_S = 60.0  # an author's cached profile is read again after this long, in the background while it is still shown ...
AUTHOR_STALE_S = 600.0  # ... and not shown once it is this old: read on the path, like one never read
AUTHOR_GATHER_S = 1.0  # the background reads due within this long are made as one
AUTHOR_WARM_CHUNK = 500  # the pool's authors are read ahead in queries of this many
FOF_FANOUT = 10  # friends of friends: through this many of the people I follow ...
FOF_EACH = 50  # ... this many of theirs each
CACHE_MAX = 20_000
NO_EXTRAS = build_table([], 0)


def _viewer(user_id: str, following: set[str], blocked: set[str], fof: set[str]) -> Viewer:
    found = Viewer(user_id=user_id, following=set(following), fof=set(fof) - set(following) - blocked, blocked=set(blocked))
    found.extras = NO_EXTRAS  # followers-only posts are in the pool (``feed.ranking.pool``)
    return found


class FeedRuntime:
    def __init__(self, stores: Stores, *, pool_size: int = POOL_SIZE):
        self.stores = stores
        self.pool = PostPool(stores, size=pool_size)
        self.hub = CountsHub(stores, on_counts=self.pool.update_counts)
        self.subscription = Subscription(
            stores,
            {
                self.hub.channel: self.hub.deliver,
                post_changes.CHANGES.key(stores): post_changes.CHANGES.receive,
                graph.CHANGES.key(stores): graph.CHANGES.receive,
            },
            name="feed-fanout",
            on_connect=self._catch_up,
        )
        self._unlisten: list[Callable[[], None]] = []
        self.views = ViewBatches(stores)
        self.shortlists: dict[str, Shared] = {}  # each user's last shareable shortlist (feed.serving.for_you.Shared)
        self.seen_memory = SeenMemory()  # posts seen checks found seen, per user (feed.serving.seen_memory)
        self.freeze_heap = True
        self._stale = False  # messages may have been missed: re-read the pool soon
        self.loop = asyncio.get_running_loop()
        self._viewers: dict[str, tuple[float, Viewer]] = {}
        self._fof: dict[str, tuple[float, set[str]]] = {}
        self._fof_reading: set[str] = set()
        self._viewer_reading: set[str] = set()
        # graph changes heard, numbered: a read that a change of its user overtook is not kept
        self._graph_epoch = 0
        self._reset_epoch = 0  # every read that started before this counts as overtaken
        self._user_epoch: dict[str, int] = {}
        self._authors: dict[str, tuple[float, Author]] = {}
        self._authors_reading: set[str] = set()  # due for a background read, or being read
        self._authors_queued: list[str] = []  # due, for the background read that is gathering them
        self.warm_authors = True  # read the pool's authors ahead (a process that renders no items turns it off)
        self._task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._unlisten = [post_changes.CHANGES.listen(self.pool.apply), graph.CHANGES.listen(self._graph_changed)]
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
        for task in list(self._background):
            task.cancel()
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
                    heap.freeze_startup_heap()  # the pool is in: start-up is done
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
                await self._warm_authors()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("authors: reading the pool's ahead failed")
            await asyncio.sleep(POOL_REFRESH_S)

    # -- the graph around a viewer -----------------------------------------

    async def viewer(self, user_id: str, *, fof: bool = True) -> Viewer:
        """The graph around the user, cached per process: whom they follow,
        whom they block or are blocked by (``accounts.graph_cache``: one Redis
        read, Mongo on a miss), and friends of friends as last read (read in
        the background; they join the entry when they land).

        An entry is dropped at once when one of the user's edges changes
        (``accounts.graph.CHANGES``), so the next call reads it again. Past
        ``VIEWER_TTL_S`` (a backstop for a missed message) the entry is still
        answered, and read again in the background: a pick never waits for it.

        ``fof=False``: a caller that only gates posts (a page from an opening)
        does not start a read of friends of friends; the entry has them when
        some other call read them."""
        cached = self._viewers.get(user_id)
        if cached is None:
            return await self._read_viewer(user_id, fof)
        if time.monotonic() - cached[0] > VIEWER_TTL_S and user_id not in self._viewer_reading:
            self._viewer_reading.add(user_id)
            self._spawn(self._reread_viewer(user_id, fof))
        return cached[1]

    async def _read_viewer(self, user_id: str, with_fof: bool = True) -> Viewer:
        epoch = self._graph_epoch
        now = time.monotonic()
        found_around = await graph_cache.around(self.stores, user_id)
        following, blocked = set(found_around.following), set(found_around.blocked)
        fof = self._fof.get(user_id)
        if with_fof and (fof is None or now - fof[0] > FOF_TTL_S) and following and user_id not in self._fof_reading:
            self._fof_reading.add(user_id)
            self._spawn(self._read_fof(user_id, sorted(following)))
        found = _viewer(user_id, following, blocked, fof[1] if fof else set())
        if not self._changed_since(user_id, epoch):  # a change heard during the read: the next call reads again
            if len(self._viewers) >= CACHE_MAX:
                self._viewers.clear()
            self._viewers[user_id] = (now, found)
        return found

    async def _reread_viewer(self, user_id: str, with_fof: bool) -> None:
        try:
            await self._read_viewer(user_id, with_fof)
        except Exception:
            log.exception("viewer graph: read failed", extra={"user_id": user_id})
        finally:
            self._viewer_reading.discard(user_id)

    def viewers(self, user_id: str) -> Callable[[], Awaitable[Viewer]]:
        """``viewer`` for one user, as the ranker asks for it before each pick."""

        async def current() -> Viewer:
            return await self.viewer(user_id)

        return current

    async def _read_fof(self, user_id: str, following: list[str]) -> None:
        epoch = self._graph_epoch
        try:
            fof = await graph_cache.friends_of_friends(self.stores, user_id, following, fanout=FOF_FANOUT, limit=FOF_FANOUT * FOF_EACH)
            if self._changed_since(user_id, epoch):
                return
            if len(self._fof) >= CACHE_MAX:
                self._fof.clear()
            self._fof[user_id] = (time.monotonic(), fof)
            cached = self._viewers.get(user_id)
            if cached is not None:  # the entry takes them in as it is: no second read of the graph
                old = cached[1]
                self._viewers[user_id] = (cached[0], _viewer(user_id, old.following, old.blocked, fof))
        except Exception:
            log.exception("friends of friends: read failed", extra={"user_id": user_id})
        finally:
            self._fof_reading.discard(user_id)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _changed_since(self, user_id: str, epoch: int) -> bool:
        """Whether a change of the user's edges (or a resubscribe, when messages
        may have been missed) was heard after ``epoch``: a graph read that
        started before it must not be kept."""
        return self._user_epoch.get(user_id, self._reset_epoch) > epoch

    def _catch_up(self) -> None:
        """The subscription (re)connected: what was published meanwhile is lost."""
        if self.subscription.connects > 1:
            self._graph_epoch += 1
            self._reset_epoch = self._graph_epoch
            self._user_epoch.clear()
            self._viewers.clear()
            self._fof.clear()
            self._stale = True

    def _graph_changed(self, change: GraphChange) -> None:
        self._graph_epoch += 1
        if len(self._user_epoch) >= CACHE_MAX:
            self._user_epoch.clear()
            self._reset_epoch = self._graph_epoch  # forgotten which: treat every read in flight as raced
        for user_id in change.users:
            self._user_epoch[user_id] = self._graph_epoch
            self._viewers.pop(user_id, None)
            self._fof.pop(user_id, None)

    async def check_visible(self, viewer_id: str, post_id: str) -> Post:
        """The post, if the viewer may see it now, else the 404 of an unknown
        post: from the pool and the cached graph when the pool holds it (both
        kept current by the change broadcasts), else read as any route reads it."""
        post = self.pool.posts.get(post_id)
        if post is None:
            return await visible_post(self.stores, post_id, viewer_id)
        viewer = await self.viewer(viewer_id)
        decision = can_view_post(
            visibility=post.visibility,
            author_id=post.author_id,
            viewer_id=viewer_id,
            viewer_follows_author=post.author_id in viewer.following,
            blocked=post.author_id in viewer.blocked,
        )
        if not decision.allowed:
            raise post_not_found(post_id)
        return post

    def visible(self, viewer_id: str) -> Callable[[list[Post]], Awaitable[list[Post]]]:
        async def check(posts: list[Post]) -> list[Post]:
            return await visible_posts(self.stores, posts, viewer_id)

        return check

    def cached_authors(self, user_ids: list[str]) -> dict[str, Author] | None:
        """``authors`` when every one of them is cached (no read on the path), else None."""
        found, missing = self._known_authors(user_ids)
        return None if missing else found

    async def authors(self, user_ids: list[str]) -> dict[str, Author]:
        """Authors' public profiles, cached per process. Past ``AUTHOR_TTL_S``
        an entry is still answered and read again in the background, so an
        item never waits for a profile it has shown before (a renamed author
        shows the old name for one more view); past ``AUTHOR_STALE_S`` it is
        read at once."""
        found, missing = self._known_authors(user_ids)
        if missing:
            found.update(await self._read_authors(missing))
        return found

    def _known_authors(self, user_ids: list[str]) -> tuple[dict[str, Author], list[str]]:
        """The cached profiles that may be shown, and the ids to read now;
        starts the background read of those past ``AUTHOR_TTL_S``."""
        now = time.monotonic()
        found: dict[str, Author] = {}
        missing, due = [], []
        for uid in dict.fromkeys(user_ids):
            cached = self._authors.get(uid)
            if cached is None or now - cached[0] > AUTHOR_STALE_S:
                missing.append(uid)
                continue
            if now - cached[0] > AUTHOR_TTL_S:
                due.append(uid)
            found[uid] = cached[1]
        self._reread_authors(due)
        return found, missing

    async def _read_authors(self, user_ids: list[str]) -> dict[str, Author]:
        now = time.monotonic()
        found = await get_users(self.stores, user_ids)
        if len(self._authors) >= CACHE_MAX:
            self._authors.clear()
        out: dict[str, Author] = {}
        for uid in user_ids:
            user = found.get(uid)
            if user is None:  # gone: nothing to show
                self._authors.pop(uid, None)
                continue
            out[uid] = Author(user.id, user.handle, user.display_name, user.avatar_url)
            self._authors[uid] = (now, out[uid])
        return out

    async def _warm_authors(self) -> None:
        """Read the profiles of the pool's authors that are not cached, or are
        due again (``AUTHOR_TTL_S``), a few queries per pool refresh: so an
        item of the pool never waits for its author's profile."""
        if not self.warm_authors:
            return
        now = time.monotonic()
        due = [
            uid for uid in self.pool.by_author
            if uid not in self._authors_reading and ((c := self._authors.get(uid)) is None or now - c[0] > AUTHOR_TTL_S)
        ]
        for i in range(0, len(due), AUTHOR_WARM_CHUNK):
            chunk = due[i : i + AUTHOR_WARM_CHUNK]
            self._authors_reading.update(chunk)
            try:
                await self._read_authors(chunk)
            finally:
                self._authors_reading.difference_update(chunk)

    def _reread_authors(self, user_ids: list[str]) -> None:
        """Queue the due profiles for one background read, made
        ``AUTHOR_GATHER_S`` after the first of them (so a process reads
        authors in the background about once a second, not once per item)."""
        due = [uid for uid in user_ids if uid not in self._authors_reading]
        if not due:
            return
        if not self._authors_queued:
            self._spawn(self._refresh_authors())
        self._authors_reading.update(due)
        self._authors_queued += due

    async def _refresh_authors(self) -> None:
        await asyncio.sleep(AUTHOR_GATHER_S)
        user_ids, self._authors_queued = self._authors_queued, []
        try:
            await self._read_authors(user_ids)
        except Exception:
            log.exception("authors: read failed", extra={"count": len(user_ids)})
        finally:
            self._authors_reading.difference_update(user_ids)


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
