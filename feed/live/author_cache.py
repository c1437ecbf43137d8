"""Authors' public profiles (``feed.social.authors.Author``), cached per
process, for the items and notifications the process renders.

An author shown before is answered at once; past ``AUTHOR_TTL_S`` the entry
is still answered and read again in the background (so an item never waits
for a profile it has shown before; a renamed author shows the old name for
one more view), the profiles that fall due within ``AUTHOR_GATHER_S`` in one
read; past ``AUTHOR_STALE_S`` it is read at once, like one never read. The
authors of the candidate pool's posts are read ahead (``warm``), a few
queries after each pool refresh, so an item from the pool does not wait for
its author's profile even the first time."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from accounts.users import get_users
from core.stores import Stores
from feed.live.background import Background
from feed.social.authors import Author, author_of

log = logging.getLogger("fabula.feed")

AUTHOR_TTL_S = 60.0  # an author's cached profile is read again after this long, in the background while it is still shown ...
AUTHOR_STALE_S = 600.0  # ... and not shown once it is this old: read on the path, like one never read
AUTHOR_GATHER_S = 1.0  # the background reads due within this long are made as one
AUTHOR_WARM_CHUNK = 500  # the pool's authors are read ahead in queries of this many
CACHE_MAX = 20_000


class AuthorCache:
    def __init__(self, stores: Stores, background: Background):
        self.stores = stores
        self.background = background
        self._authors: dict[str, tuple[float, Author]] = {}
        self._reading: set[str] = set()  # due for a background read, or being read
        self._queued: list[str] = []  # due, for the background read that is gathering them

    def cached(self, user_ids: list[str]) -> dict[str, Author] | None:
        """``get`` when every one of them is cached (no read on the path), else None."""
        found, missing = self._known(user_ids)
        return None if missing else found

    async def get(self, user_ids: list[str]) -> dict[str, Author]:
        """The profiles of those among ``user_ids`` who exist (module doc)."""
        found, missing = self._known(user_ids)
        if missing:
            found.update(await self._read(missing))
        return found

    def _known(self, user_ids: list[str]) -> tuple[dict[str, Author], list[str]]:
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
        self._reread(due)
        return found, missing

    async def _read(self, user_ids: list[str]) -> dict[str, Author]:
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
            out[uid] = author_of(user)
            self._authors[uid] = (now, out[uid])
        return out

    async def warm(self, user_ids: Iterable[str]) -> None:
        """Read the profiles among ``user_ids`` that are not cached, or are
        due again (``AUTHOR_TTL_S``), in queries of ``AUTHOR_WARM_CHUNK``."""
        now = time.monotonic()
        due = [
            uid for uid in user_ids
            if uid not in self._reading and ((c := self._authors.get(uid)) is None or now - c[0] > AUTHOR_TTL_S)
        ]
        for i in range(0, len(due), AUTHOR_WARM_CHUNK):
            chunk = due[i : i + AUTHOR_WARM_CHUNK]
            self._reading.update(chunk)
            try:
                await self._read(chunk)
            finally:
                self._reading.difference_update(chunk)

    def _reread(self, user_ids: list[str]) -> None:
        """Queue the due profiles for one background read, made
        ``AUTHOR_GATHER_S`` after the first of them (so a process reads
        authors in the background about once a second, not once per item)."""
        due = [uid for uid in user_ids if uid not in self._reading]
        if not due:
            return
        if not self._queued:
            self.background.spawn(self._refresh())
        self._reading.update(due)
        self._queued += due

    async def _refresh(self) -> None:
        await asyncio.sleep(AUTHOR_GATHER_S)
        user_ids, self._queued = self._queued, []
        try:
            await self._read(user_ids)
        except Exception:
            log.exception("authors: read failed", extra={"count": len(user_ids)})
        finally:
            self._reading.difference_update(user_ids)
