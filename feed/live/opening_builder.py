"""The opening builder (``fabula feed-builder``): ranks the first pages of
users' next for-you sessions ahead of time (``feed.serving.openings``), so
that an api process serves them in one round trip instead of ranking them in
the request.

A build is the ranking an api process would run for a new session of the
user (``feed.serving.for_you.ForYou``, built by ``feed.live.ranker`` on a
``FeedRuntime``'s candidate pool and graph cache, which the same Redis
subscription keeps current), taken ``openings.SIZE`` picks deep; an opening
still in use is extended to that size as its session would go on. Builds are made for users whose opening was
asked for (``openings.wanted``), oldest ask first. Several builders may run:
each ask goes to one of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from core.stores import Stores
from feed.live import ranker
from feed.live.runtime import POOL_REFRESH_S, FeedRuntime, ready
from feed.serving import openings, sessions
from feed.serving.for_you import start_commands

log = logging.getLogger("fabula.openings")

BATCH = 16  # asks claimed at a time
IDLE_S = 0.05  # how long a builder with nothing due waits before looking again
ATTEMPTS = 3  # builds of one ask, when pages keep serving a build's posts before it is kept
ERROR_PAUSE_S = 1.0  # after a failed claim


class OpeningBuilder:
    def __init__(self, stores: Stores, *, size: int = openings.SIZE, runtime: FeedRuntime | None = None):
        self.stores = stores
        self.size = size
        self.runtime = runtime  # None: this process's (``feed.live.runtime.ready``)
        self.built = 0
        self._stop = asyncio.Event()

    async def _runtime(self) -> FeedRuntime:
        return self.runtime or await ready(self.stores)

    async def build(self, user_id: str) -> int:
        """Rank the user's opening and keep it; returns how many posts it holds.

        An opening that pages still take from is extended rather than
        replaced: its entries stay, and the new picks follow them as the next
        picks of one session would (its last entries are their history, for
        the author cap and MMR), so a session in the middle of it carries on
        into them. Otherwise a new one is built."""
        rt = await self._runtime()
        await rt.pool.refresh(max_age=POOL_REFRESH_S)
        for _ in range(ATTEMPTS):
            viewer = await rt.viewers.viewer(user_id)
            # the opening as it stands and what a session of the user starts from, in one round trip
            async with self.stores.redis.pipeline(transaction=True) as pipe:
                openings.current_commands(pipe, self.stores, user_id)
                last = start_commands(pipe, self.stores, user_id, rt.pool, rt.shortlists, time.time())
                replies = await pipe.execute()
            found = openings.current_found(replies[: openings.CURRENT_REPLIES])
            base = found if found is not None and found.items else None
            state = sessions.new(self.stores, user_id=user_id, kind="for_you", window=self.size)
            if base is not None:
                state.served, state.interest = list(base.items), base.interest  # excluded, and the picks' history
            source = ranker.for_you(rt, state, viewer, follow_graph=False)  # the builder reads the graph once per build
            await source.started(last, replies[openings.CURRENT_REPLIES :])
            start_taste = state.interest  # what the session starts from; picking does not move it
            have = len(base.items) if base is not None else 0
            picks = await source.next(self.size - have)
            try:
                # some may have been served meanwhile (a page that found no opening): then build again
                conflicts = await openings.store(self.stores, user_id, [p.post.id for p in picks], start_taste, extends=base)
            except openings.Moved:
                continue  # used up or replaced meanwhile: look again
            if not conflicts:
                self.built += 1
                return have + len(picks)
        return 0

    async def run_once(self) -> int:
        """Build for the asks due now (up to ``BATCH``), all at once; returns how many.

        The builds of one batch run concurrently: their round trips overlap,
        and a round trip costs redis-py less CPU while others are in flight."""
        users = await openings.wanted(self.stores, BATCH)
        await asyncio.gather(*(self._build_logged(user_id) for user_id in users))
        return len(users)

    async def _build_logged(self, user_id: str) -> None:
        try:
            await self.build(user_id)
        except Exception:  # one user's build must not stop the others'
            log.exception("opening build failed", extra={"user_id": user_id})

    async def run(self) -> None:
        (await self._runtime()).warm_authors = False  # a builder shows no authors
        log.info("opening builder started")
        while not self._stop.is_set():
            try:
                pause = 0.0 if await self.run_once() else IDLE_S
            except Exception:  # Redis away for a moment: the asks wait in Redis, so try again shortly
                log.exception("opening builder: claiming asks failed")
                pause = ERROR_PAUSE_S
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause)
        log.info("opening builder stopped", extra={"built": self.built})

    def stop(self) -> None:
        self._stop.set()
