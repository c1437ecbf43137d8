"""Views counted in batches: the swipe stream's most frequent write.

One api process collects the views its feed sessions report and writes them
every ``INTERVAL_S`` with ``feed.social.counters.bump_many`` (one bulk ``$inc`` for
all the posts viewed meanwhile, one read, one Redis pipeline), instead of a
``findAndModify``, a script and a PUBLISH per view. The counters stay exact
in Mongo once a batch is written; they lag by at most ``INTERVAL_S`` (plus
the write). Views still waiting when the process stops are written by
``close``; a process that is killed loses at most one interval of them, and
a batch whose write fails is dropped (part of it may have landed: writing
it again could count views twice).

The viewer's history (``feed.social.views.record_history``: what the feed treats as
seen) is written at once by the caller, not batched."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.stores import Stores
from feed.social import counters
from feed.social.views import view_deltas

log = logging.getLogger("fabula.feed")

INTERVAL_S = 0.2


class ViewBatches:
    def __init__(self, stores: Stores, *, interval: float = INTERVAL_S):
        self.stores = stores
        self.interval = interval
        self.pending: dict[str, dict[str, int]] = {}
        self.written = 0  # views written so far
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    def add(self, post_id: str, *, watch_ms: int, completed: bool, length_ms: int | None = None) -> None:
        """Count one view of ``post_id`` (written with the next batch); ``watch_ms``
        at most ``length_ms``, the clip's length, when known."""
        into = self.pending.setdefault(post_id, {name: 0 for name in ("views", "watch_ms", "completes")})
        for name, value in view_deltas(watch_ms, completed, length_ms).items():
            into[name] += value
        self._wake.set()

    async def flush(self) -> int:
        """Write what is pending now; returns how many views it held."""
        batch, self.pending = self.pending, {}
        if not batch:
            return 0
        # A write that fails is not retried: part of it may have landed, and
        # counting those views twice would be worse than losing the batch.
        await counters.bump_many(self.stores, batch)
        views = sum(inc["views"] for inc in batch.values())
        self.written += views
        return views

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="view-batches")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("view batch write failed; its views are not counted")
