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
* The posts it names outside the pool are ranked from the index itself:
  their vectors decoded from it, their author, creation time and counters
  from the columns the builder wrote beside them
  (``feed.live.index_builder``), the counters replaced by the live ones
  when Redis holds them (``counters.cached_counts``; nothing is read from
  Mongo). They are kept, the newest ``KEEP`` asked for, in ``rows``, their
  counters looked at again after ``STALE_S``. At 1M posts the pool holds
  half a percent of the catalogue, so nearly every post the index names is
  outside it: reading each from the database, as a first version did, kept
  nx-27017 busy with 20 reads of 100 posts a second at 500 swipers
  (docs/PERFORMANCE.md).
* A post is read only to be served: ``want_posts`` hands the first few of a
  shortlist's posts from outside the pool to one background reader
  (without embeddings, ``READ_CHUNK`` a query, at most ``PENDING``
  waiting), which puts them in the pool's ``outside`` map, so the feed
  renders and gates them without a read, and edits and deletes reach them
  as they reach the pool's posts. A post found gone, or no longer public,
  is dropped and left out of later answers. One the reader has not reached
  yet is read where it is served (``feed.serving.for_you.gate``).
* ``similar`` answers post ids; ``extras`` makes them a table. A session
  keeps a whole answer's ids (not the table: 200 embeddings are 300 KB a
  session) and gives them again while the index version and its taste
  stay (``feed.serving.for_you``), so most rebuilds do not search at all."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from core.stores import Stores
from feed.ranking import ann
from feed.ranking.features import Table, build_table
from feed.ranking.pool import PostPool
from feed.social import counters, posts

log = logging.getLogger("fabula.feed.catalogue")

CHECK_S = 5.0
READ_CHUNK = 100
PENDING = 2000
K = 200  # neighbours asked for per shortlist build
KEEP = 20_000  # rows kept of posts outside the pool
STALE_S = 300.0
GONE_KEPT = 50_000  # posts found gone, left out of answers (cleared past this: the next index drops them)


class CatalogueReader:
    def __init__(self, stores: Stores, pool: PostPool, directory: Path | None = None):
        self.stores = stores
        self.pool = pool
        self.directory = directory or ann.index_dir(stores.settings.data_dir, stores.settings.namespace)
        self.current: ann.Catalogue | None = None
        self._checked_at = 0.0
        self._pointer: tuple | None = None
        self.rows: OrderedDict[str, tuple] = OrderedDict()  # id -> (author, created, embedding, counts, counted_at)
        self.gone: set[str] = set()  # posts found deleted or no longer public since the index was written
        self.reads = 0  # posts read from Mongo (for the bench)
        self._pending: dict[str, None] = {}  # ids to read, oldest ask first
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
        return self.current

    def _open(self) -> ann.Catalogue | None:
        catalogue = self.index() if self.enabled else None
        return None if catalogue is None or len(catalogue) == 0 else catalogue

    def nearest(self, direction: np.ndarray | None, k: int = K) -> list[str]:
        """Post ids nearest ``direction`` in the whole catalogue (empty without an index)."""
        catalogue = self._open()
        if catalogue is None or direction is None:
            return []
        return catalogue.search(direction, k)

    def version(self) -> int:
        """The version of the index open now (-1: none)."""
        catalogue = self.index() if self.enabled else None
        return -1 if catalogue is None else catalogue.version

    async def similar(self, direction: np.ndarray | None, *, k: int = K) -> list[str]:
        """The ids of the posts nearest ``direction`` that the pool does not
        hold (and that were not found gone), each with a row to rank it by;
        ``extras`` makes them a table."""
        catalogue = self._open()
        if catalogue is None or direction is None:
            return []
        found, vectors = catalogue.nearest(direction, k)
        now = time.time()
        outside: list[str] = []
        new: dict[str, tuple] = {}
        kept: dict[str, tuple] = {}
        for row, vector in zip(found.tolist(), vectors):
            pid = catalogue.ids[row].decode()
            if pid in self.pool.rows or pid in self.gone:
                continue
            outside.append(pid)
            held = self.rows.get(pid)
            if held is None or now - held[4] > STALE_S:
                new[pid] = (row, vector, held)
            else:
                kept[pid] = held
        if new:
            live = await counters.cached_counts(self.stores, list(new))
            columns = catalogue.columns
            for pid, (row, vector, held) in new.items():
                if held is not None:
                    self.rows[pid] = (*held[:3], live.get(pid, held[3]), now)
                    continue
                author = columns["author"][row].decode() if "author" in columns else ""
                created = float(columns["created"][row]) if "created" in columns else 0.0
                snapshot = {name: int(columns[name][row]) for name in counters.FIELDS if name in columns}
                self.rows[pid] = (author, created, np.array(vector, dtype=np.float32), live.get(pid, snapshot), now)
            for pid, held in kept.items():  # dropped by another ask while this one waited for Redis
                self.rows.setdefault(pid, held)
        for pid in outside:
            self.rows.move_to_end(pid)
        while len(self.rows) > KEEP:
            pid, _ = self.rows.popitem(last=False)
            self.pool.forget_outside(pid)
        return outside

    def extras(self, post_ids: list[str]) -> Table:
        """The posts among ``post_ids`` that have a row (and were not taken into
        the pool or found gone since), as a ``Table`` of extras."""
        found = []
        for pid in post_ids:
            row = self.rows.get(pid)
            if row is not None and pid not in self.pool.rows:
                found.append((pid, row[0], row[1], row[2], row[3]))
        return build_table(found, self.pool.dim)

    def want_posts(self, post_ids: list[str]) -> None:
        """Read these posts (from outside the pool) in the background, to be
        served from memory; those already held are skipped."""
        for pid in post_ids:
            if len(self._pending) >= PENDING:
                break
            if pid in self.rows and pid not in self.pool.outside and pid not in self.pool.rows:
                self._pending[pid] = None
        if self._pending and (self._reader is None or self._reader.done()):
            self._reader = asyncio.create_task(self._read_pending(), name="feed-catalogue-reads")

    async def _read_pending(self) -> None:
        while self._pending:
            part = list(self._pending)[:READ_CHUNK]
            try:
                await self._read(part)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: the gate reads them when they are served
                log.exception("catalogue: reading posts failed")
                self._pending.clear()
                return
            for pid in part:
                self._pending.pop(pid, None)

    async def settled(self) -> None:
        """Return once the posts asked for so far have been read (for tests)."""
        while self._reader is not None and not self._reader.done():
            await asyncio.shield(self._reader)

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self, post_ids: list[str]) -> None:
        got = await posts.get_posts(self.stores, post_ids, embeddings=False)
        self.reads += len(post_ids)
        for pid in post_ids:
            post = got.get(pid)
            if post is None or post.visibility != "public":
                self.forget(pid)
            elif pid in self.rows:  # not dropped from the rows while it was read
                self.pool.keep_outside(post)

    def forget(self, post_id: str) -> None:
        """``post_id`` is gone or no longer public: left out of later answers."""
        if len(self.gone) >= GONE_KEPT:
            self.gone.clear()
        self.gone.add(post_id)
        self.rows.pop(post_id, None)
        self.pool.forget_outside(post_id)
