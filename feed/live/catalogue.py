"""The catalogue index as an api process reads it: the ``similar`` source
beyond the pool.

The pool (``feed.ranking.pool``) holds the newest posts; the index
(``feed.ranking.ann``, written by the feed builder: ``feed.live.index_builder``)
holds every public post. ``similar`` asks it for the posts nearest a
session's interest and answers those the pool does not hold as a
``Table`` of extras, ranked with the pool's candidates
(``feed.ranking.candidates.gather``).

* The index is opened memory-mapped and opened again when the builder has
  written a newer version (its ``current.json`` is looked at no more than
  every ``CHECK_S``); without one, ``similar`` answers nothing and the
  pool's own similar source serves alone.
* The posts it names outside the pool are read once (with their embeddings
  and counters) and kept, the ``KEEP`` used last, in ``rows``
  (``feed.live.kept_rows``: columns with a slot a post, allocated whole for
  the posts the index can name when it is opened); their
  posts go into the pool's ``outside`` map, so the feed renders and gates
  them without a read, and edits and deletes reach them as they reach the
  pool's posts. Counters read more than ``STALE_S`` ago are read again with
  the next ask that names them. A post gone, or no longer public, is left
  out.
* Nothing waits on those reads: ``similar`` answers from what is kept and
  hands what is missing to one background reader (``READ_CHUNK`` posts a
  query, at most ``PENDING`` waiting, the newest asks kept when more
  come), so the posts join the next build. The newest ask is read first,
  nearest posts first: its session is the one still building, where an
  old ask's may have moved on.
* The reader reads at most ``READS_PER_S`` posts a second (``pace``), so
  the database's share of this work is bounded whatever the catalogue's
  size. At 1M posts, unbounded, it read without pause: nx-27017 spent 73%
  of a core against 24% at 10k, and every other command of the api waited
  behind it (docs/PERFORMANCE.md, catalogue scale). What is not read in
  time is asked for again by a later build. The posts named are counted by
  whether they were at hand
  (``fabula_feed_catalogue_posts_named_total{state}``), beside the posts
  read (``fabula_feed_catalogue_posts_read_total``).
  A first version waited for them in the build: at 500 swipers on 2 shared
  cores that put nx-27017's reads of 200 embeddings on the path of the next
  item (p50 2.5 s, docs/PERFORMANCE.md).
* ``similar`` answers post ids and whether all of them were at hand;
  ``extras`` makes the table. A session keeps a whole answer's ids (not the
  table: 200 embeddings are 300 KB a session) and gives them again while
  the index version and its taste stay (``feed.serving.for_you``), so most
  rebuilds do not search at all."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import numpy as np
from prometheus_client import Counter, Gauge

from core.stores import Stores
from feed.ranking import ann
from feed.live.kept_rows import KeptRows
from feed.ranking.features import Table
from feed.ranking.pool import PostPool, unix
from feed.social import posts

log = logging.getLogger("fabula.feed.catalogue")

CHECK_S = 5.0
READ_CHUNK = 100
PENDING = 2000
K = 200  # neighbours asked for per shortlist build
KEEP = 20_000  # rows kept of posts outside the pool
STALE_S = 300.0
OFF_LOOP_FROM = 250_000  # posts in the index from which a search runs on a thread (about 1 ms a search here)
READS_PER_S = 400.0  # posts read a second at most (nx-27017: about 0.05 ms a post stored as bytes, 0.27 ms as a list)

POSTS_READ = Counter("fabula_feed_catalogue_posts_read", "posts the catalogue index named beyond the pool, read from the database")
NAMED = Counter("fabula_feed_catalogue_posts_named", "posts the catalogue index named beyond the pool, by whether they were at hand", ["state"])
_AT_HAND, _TO_READ = NAMED.labels("at_hand"), NAMED.labels("to_read")
ROWS_KEPT = Gauge("fabula_feed_catalogue_rows_kept", f"catalogue posts outside the pool kept with their embeddings (at most {KEEP})")
OFF_LOOP = Counter("fabula_feed_catalogue_searches_off_loop", "catalogue index searches run on a thread (a large index)")


def pace(read: int, elapsed_s: float, per_s: float = READS_PER_S) -> float:
    """Seconds to wait after reading ``read`` posts in ``elapsed_s`` so that
    reads keep to ``per_s`` posts a second (0: no bound)."""
    if per_s <= 0:
        return 0.0
    return max(0.0, read / per_s - elapsed_s)


class CatalogueReader:
    def __init__(self, stores: Stores, pool: PostPool, directory: Path | None = None):
        self.stores = stores
        self.pool = pool
        self.directory = directory or ann.index_dir(stores.settings.data_dir, stores.settings.namespace)
        self.current: ann.Catalogue | None = None
        self._checked_at = 0.0
        self._pointer: tuple | None = None
        self.rows = KeptRows(KEEP, pool.dim)
        self.reads = 0  # posts read from Mongo (for the bench)
        self._pending: dict[str, None] = {}  # ids to read: the oldest ask first, each ask farthest first
        self._reader: asyncio.Task | None = None
        self.enabled = True  # False: answers nothing, as without an index (bench/feed.py --index-ab)

    def index(self) -> ann.Catalogue | None:
        """The newest version written, opened (looked for at most every ``CHECK_S``)."""
        now = time.monotonic()
        if now - self._checked_at < CHECK_S and (self.current is not None or self._checked_at):
            return self.current
        self._checked_at = now
        try:
            stat = (self.directory / ann.CURRENT).stat()
        except OSError:
            return self.current
        pointer = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if pointer != self._pointer:
            opened = ann.open_current(self.directory)
            if opened is not None:
                self.current, self._pointer = opened, pointer
                self.rows.reserve(len(opened))  # the most it can name beyond the pool, up to KEEP
        return self.current

    def _searchable(self, direction: np.ndarray | None) -> ann.Catalogue | None:
        """The index to search for ``direction``, or None when there is nothing to search."""
        catalogue = self.index() if self.enabled else None
        if catalogue is None or direction is None or len(catalogue) == 0:
            return None
        return catalogue

    def nearest(self, direction: np.ndarray | None, k: int = K) -> list[str]:
        """Post ids nearest ``direction`` in the whole catalogue (empty without an index)."""
        catalogue = self._searchable(direction)
        return [] if catalogue is None else catalogue.search(direction, k)

    async def nearest_async(self, direction: np.ndarray | None, k: int = K) -> list[str]:
        """``nearest``, on a thread once the index holds ``OFF_LOOP_FROM``
        posts: FAISS lets go of the GIL while it searches, so the event loop
        serves other sessions meanwhile (2.7 ms a search at 1M posts); a
        smaller index answers sooner than a thread would start."""
        catalogue = self._searchable(direction)
        if catalogue is None:
            return []
        if len(catalogue) < OFF_LOOP_FROM:
            return catalogue.search(direction, k)
        OFF_LOOP.inc()
        return await asyncio.to_thread(catalogue.search, direction, k)

    def version(self) -> int:
        """The version of the index open now (-1: none)."""
        catalogue = self.index() if self.enabled else None
        return -1 if catalogue is None else catalogue.version

    async def similar(self, direction: np.ndarray | None, *, k: int = K) -> tuple[list[str], bool]:
        """The ids of the posts nearest ``direction`` that the pool does not
        hold, and whether all of them are at hand (False: some were still to be
        read, or read too long ago, and will be there for a later ask).
        ``extras`` makes them a table."""
        outside = [pid for pid in await self.nearest_async(direction, k) if pid not in self.pool.rows]
        now = time.time()
        missing = [pid for pid in outside if pid not in self.pool.outside or now - (self.rows.read_at_of(pid) or 0.0) > STALE_S]
        if missing:
            self._want(missing)
        if outside:
            _AT_HAND.inc(len(outside) - len(missing))
            _TO_READ.inc(len(missing))
        return outside, not missing

    def extras(self, post_ids: list[str]) -> Table:
        """The posts among ``post_ids`` that are at hand (read, and not taken
        into the pool since), as a ``Table`` of extras."""
        return self.rows.table([pid for pid in post_ids if pid not in self.pool.rows])

    def _want(self, post_ids: list[str]) -> None:
        """Queue ``post_ids`` (nearest first) for the reader, which reads from
        the back; past ``PENDING`` the oldest asks give way (their sessions
        have likely moved on)."""
        for pid in reversed(post_ids[:PENDING]):
            self._pending.pop(pid, None)  # asked again: to the back, with the newest
            self._pending[pid] = None
        for pid in list(self._pending)[: max(0, len(self._pending) - PENDING)]:
            del self._pending[pid]
        if self._pending and (self._reader is None or self._reader.done()):
            self._reader = asyncio.create_task(self._read_pending(), name="feed-catalogue-reads")

    async def _read_pending(self) -> None:
        while self._pending:
            part = list(self._pending)[-READ_CHUNK:][::-1]  # the newest ask's nearest posts
            started = time.monotonic()
            try:
                await self._read(part, time.time())
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: the next build asks again
                log.exception("catalogue: reading posts failed")
                self._pending.clear()
                return
            for pid in part:
                self._pending.pop(pid, None)
            wait = pace(len(part), time.monotonic() - started)
            if wait and self._pending:
                await asyncio.sleep(wait)

    async def settled(self) -> None:
        """Return once the posts asked for so far have been read (for tests)."""
        while self._reader is not None and not self._reader.done():
            await asyncio.shield(self._reader)

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self, post_ids: list[str], now: float) -> None:
        # one read: the counters come with the posts, the embeddings as arrays beside them
        got, vectors, counts = await posts.get_posts_vectors_and_counts(self.stores, post_ids)
        self.keep(post_ids, got, vectors, counts, now)

    def keep(
        self, post_ids: list[str], got: dict[str, posts.Post], vectors: dict[str, np.ndarray], counts: dict[str, dict[str, int]], now: float
    ) -> None:
        """Keep what one read of ``post_ids`` found (the ``KEEP`` rows used
        last stay; a post gone or no longer public is forgotten)."""
        public = [p for p in got.values() if p.visibility == "public" and p.id in vectors]
        self.reads += len(post_ids)
        POSTS_READ.inc(len(post_ids))
        kept = {p.id for p in public}
        for pid in post_ids:
            if pid not in kept:
                self.rows.drop(pid)
                self.pool.forget_outside(pid)
        for p in public:
            evicted = self.rows.put(p.id, p.author_id, unix(p.created_at), vectors[p.id], counts.get(p.id), now)
            if evicted is not None:
                self.pool.forget_outside(evicted)
            self.pool.keep_outside(p)
        ROWS_KEPT.set(len(self.rows))
