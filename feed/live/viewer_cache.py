"""The graph around each viewer, cached per process: whom they follow, whom
they block or are blocked by (``accounts.graph_cache``: one Redis read,
Mongo on a miss), and friends of friends as last read (read in the
background; they join the entry when they land). The ranker's block and
visibility checks run against it (``feed.viewer.Viewer``).

An entry is dropped at once when one of the user's edges changes
(``accounts.graph.CHANGES``, wired by ``feed.live.runtime``), so the next
call reads it again; a read that such a change overtook is not kept. Past
``VIEWER_TTL_S`` (a backstop for a missed message) the entry is still
answered, and read again in the background: a pick never waits for it."""

from __future__ import annotations

import logging
import time

from accounts import graph_cache
from accounts.graph import GraphChange
from core.stores import Stores
from feed.live.background import Background
from feed.ranking.features import build_table
from feed.viewer import Viewer

log = logging.getLogger("fabula.feed")

VIEWER_TTL_S = 30.0  # the graph around a user is re-read this often (and at once when an edge of theirs changes)
FOF_TTL_S = 60.0  # friends of friends, read in the background, are kept this long
FOF_FANOUT = 10  # friends of friends: through this many of the people I follow ...
FOF_EACH = 50  # ... this many of theirs each
CACHE_MAX = 20_000
NO_EXTRAS = build_table([], 0)


def _viewer(user_id: str, following: set[str], blocked: set[str], fof: set[str]) -> Viewer:
    found = Viewer(user_id=user_id, following=set(following), fof=set(fof) - set(following) - blocked, blocked=set(blocked))
    found.extras = NO_EXTRAS  # followers-only posts are in the pool (``feed.ranking.pool``)
    return found


class ViewerCache:
    def __init__(self, stores: Stores, background: Background):
        self.stores = stores
        self.background = background
        self._viewers: dict[str, tuple[float, Viewer]] = {}
        self._fof: dict[str, tuple[float, set[str]]] = {}
        self._fof_reading: set[str] = set()
        self._viewer_reading: set[str] = set()
        # graph changes heard, numbered: a read that a change of its user overtook is not kept
        self._graph_epoch = 0
        self._reset_epoch = 0  # every read that started before this counts as overtaken
        self._user_epoch: dict[str, int] = {}

    async def viewer(self, user_id: str, *, fof: bool = True) -> Viewer:
        """The graph around the user (module doc).

        ``fof=False``: a caller that only gates posts (a page from an opening)
        does not start a read of friends of friends; the entry has them when
        some other call read them."""
        cached = self._viewers.get(user_id)
        if cached is None:
            return await self._read_viewer(user_id, fof)
        if time.monotonic() - cached[0] > VIEWER_TTL_S and user_id not in self._viewer_reading:
            self._viewer_reading.add(user_id)
            self.background.spawn(self._reread_viewer(user_id, fof))
        return cached[1]

    async def _read_viewer(self, user_id: str, with_fof: bool = True) -> Viewer:
        epoch = self._graph_epoch
        now = time.monotonic()
        found_around = await graph_cache.around(self.stores, user_id)
        following, blocked = set(found_around.following), set(found_around.blocked)
        fof = self._fof.get(user_id)
        if with_fof and (fof is None or now - fof[0] > FOF_TTL_S) and following and user_id not in self._fof_reading:
            self._fof_reading.add(user_id)
            self.background.spawn(self._read_fof(user_id, sorted(following)))
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

    def _changed_since(self, user_id: str, epoch: int) -> bool:
        """Whether a change of the user's edges (or a resubscribe, when messages
        may have been missed) was heard after ``epoch``: a graph read that
        started before it must not be kept."""
        return self._user_epoch.get(user_id, self._reset_epoch) > epoch

    def forget_all(self) -> None:
        """Messages may have been missed (the subscription reconnected): drop
        every entry, and keep no read that is in flight."""
        self._graph_epoch += 1
        self._reset_epoch = self._graph_epoch
        self._user_epoch.clear()
        self._viewers.clear()
        self._fof.clear()

    def graph_changed(self, change: GraphChange) -> None:
        self._graph_epoch += 1
        if len(self._user_epoch) >= CACHE_MAX:
            self._user_epoch.clear()
            self._reset_epoch = self._graph_epoch  # forgotten which: treat every read in flight as raced
        for user_id in change.users:
            self._user_epoch[user_id] = self._graph_epoch
            self._viewers.pop(user_id, None)
            self._fof.pop(user_id, None)
