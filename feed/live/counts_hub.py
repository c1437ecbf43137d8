"""Live counters across api replicas, heard on the feed runtime's Redis
subscription (``feed.live.runtime``, ``core.subscription``).

Every ``feed.social.counters.bump`` (a like, view, share, comment, remix, in any
process) PUBLISHes ``{post_id, counts}`` on ``{ns}:counts``. The process's
subscription hands every message to ``CountsHub.deliver``, which passes it to

* the candidate pool (``feed.ranking.pool.PostPool.update_counts``), so ranking sees
  engagement as it happens, and
* the watchers of that post: the feed sessions on this process's
  connections that hold it in their window (``server.ws.feed_session``),
  which push ``feed.counts`` to their clients.

Watched posts are not pushed message by message: a message marks its post
changed, and every ``FLUSH_S`` the hub reads the changed posts' counters in
one round trip (``feed.social.counters.get_counts``: the cached copy only ever moves
to newer versions, whereas messages of concurrent bumps can arrive out of
order) and hands them to the watchers. So a post moves at most once per
flush, however fast it is liked, and one read serves every session.

A message published while the subscriber was away is not replayed (clients
read counts with the items; the pool re-reads all counts at once after a
reconnect, and a slice of them with every refresh otherwise)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import msgspec

from core.stores import Stores
from feed.social import counters

log = logging.getLogger("fabula.feed")

FLUSH_S = 0.25

_decode = msgspec.json.Decoder(counters.CountsMessage).decode


class Watcher(Protocol):
    def counts_changed(self, post_id: str, counts: dict[str, int]) -> None: ...


class CountsHub:
    def __init__(self, stores: Stores, on_counts: Callable[[str, dict[str, int]], object] | None = None):
        self.stores = stores
        self.on_counts = on_counts
        self.watchers: dict[str, set[Watcher]] = {}
        self.watching: dict[Watcher, set[str]] = {}
        self.flusher: asyncio.Task | None = None
        self.changed: set[str] = set()
        self.wake = asyncio.Event()

    @property
    def channel(self) -> str:
        """The channel whose messages go to ``deliver`` (the runtime's ``core.subscription.Subscription`` reads it)."""
        return self.stores.key(counters.COUNTS_CHANNEL)

    def start(self) -> None:
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush(), name="counts-flush")

    async def stop(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.flusher
        self.flusher = None

    # -- watchers ----------------------------------------------------------

    def watch(self, watcher: Watcher, post_ids: set[str]) -> None:
        """Make ``post_ids`` the posts ``watcher`` hears about (replacing its previous set)."""
        old = self.watching.get(watcher, set())
        for pid in old - post_ids:
            held = self.watchers.get(pid)
            if held is not None:
                held.discard(watcher)
                if not held:
                    del self.watchers[pid]
        for pid in post_ids - old:
            self.watchers.setdefault(pid, set()).add(watcher)
        if post_ids:
            self.watching[watcher] = set(post_ids)
        else:
            self.watching.pop(watcher, None)

    def unwatch(self, watcher: Watcher) -> None:
        self.watch(watcher, set())

    # -- the subscriber ----------------------------------------------------

    def deliver(self, raw: bytes | str) -> None:
        try:
            message = _decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("malformed counts message dropped")
            return
        if self.on_counts is not None:
            self.on_counts(message.post_id, message.counts)
        if message.post_id in self.watchers:
            self.changed.add(message.post_id)
            self.wake.set()

    async def _flush(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            changed, self.changed = self.changed, set()
            ids = [pid for pid in changed if pid in self.watchers]
            if ids:
                try:
                    current = await counters.get_counts(self.stores, ids)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("counts flush failed")
                    current = {}
                for post_id, counts in current.items():
                    if self.on_counts is not None:
                        self.on_counts(post_id, counts)
                    for watcher in list(self.watchers.get(post_id, ())):
                        watcher.counts_changed(post_id, counts)
            await asyncio.sleep(FLUSH_S)
