"""The candidate pool: the newest posts that others may see (public, and
followers-only: ``restricted``, a column the candidate sources apply per
viewer), held in memory by each api
process as columns (``feed.ranking.features.Table``) with their embeddings and
counters, so ranking a session's next item reads no database.

* New posts come in by ``refresh``: the ids of the newest posts (a sort on
  ``_id`` with a small limit, widened while everything it finds is new), then
  the new ones by id (``feed.social.posts.get_posts``). Both shapes are cheap on
  nx-27017 too, where a range query on ``_id`` (``recent_posts``) scans the
  whole collection. The api refreshes every ``feed.live.runtime.POOL_REFRESH_S``.
* Counters stay current through ``update_counts``, fed by the live-counts
  listener (every ``feed.social.counters.bump`` is published). In case a message
  was missed, ``reread_next`` re-reads the pool a slice at a time (counters
  and posts), so that every post is read again about once a minute without
  a burst of reads; after messages were known to be lost, ``resync_counts``
  and ``revalidate`` read all of it at once.
* The pool holds at most ``size`` posts, the newest; older ones drop out.
  Posts only their author sees are not taken in.

* Beside its rows, the pool keeps the posts of the catalogue index's
  answers that it does not hold (``outside``, filled by
  ``feed.live.catalogue``), so they render and gate without a read too;
  edits and deletes reach them as they reach the pool's own.

* The pool also holds each post itself (``posts``: caption, visibility and
  the rest, without the embedding), so the feed renders what it serves
  without a read. Edits and deletes reach it as they happen
  (``feed.social.post_changes``, through ``apply``): a deleted post, or one made
  only-me, leaves the pool; an edited one is replaced; one opened up is
  read and taken in if it is new enough."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import msgspec
import numpy as np
from pymongo import DESCENDING

from core.stores import Stores
from feed.ranking import trending
from feed.ranking.features import (
    COUNT_FIELDS,
    PRIORS,
    Priors,
    Table,
    build_table,
    feature_matrix,
    fresh_mask,
)
from feed.social import counters, post_changes, posts

DIM = 384
FIRST_LOOK = 20  # ids a refresh looks at first; widened x4 while all are new
FETCH_CHUNK = 500
STATIC_MAX_AGE_S = 2.0
POOL_VISIBILITIES = ("public", "followers")


def unix(dt: datetime) -> float:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


class PostPool:
    def __init__(self, stores: Stores, *, size: int = 5000, dim: int = DIM):
        self.stores = stores
        self.size = size
        self.dim = dim
        self.table = build_table([], dim)
        self.rows: dict[str, int] = {}
        self.posts: dict[str, posts.Post] = {}  # by id, without embeddings
        self.outside: dict[str, posts.Post] = {}  # catalogue posts the rows do not hold (``keep_outside``)
        self.by_author: dict[str, np.ndarray] = {}
        self.version = 0  # moves whenever rows move
        self.refreshed_at = 0.0  # monotonic start time of the last completed refresh
        self._passed: set[str] = set()  # newest ids seen that the pool does not take
        self.restricted = np.zeros(0, dtype=bool)  # per row: followers-only
        self._task: asyncio.Task | None = None
        self._task_started = 0.0
        self._trending: tuple[float, np.ndarray, float] | None = None
        self._static: tuple[int, float, np.ndarray, Priors] | None = None
        self._ids: tuple[int, np.ndarray] | None = None
        self._sources: dict[tuple, tuple[float, np.ndarray]] = {}  # viewer-independent source rows (``_source``)
        self._background: set[asyncio.Task] = set()
        self._reread: list[str] = []  # what is left of the rolling re-read's pass (``reread_next``)
        self._watchers: list[asyncio.Future] = []  # ``moved`` callers waiting for the rows to move

    def __len__(self) -> int:
        return len(self.table)

    # -- loading ---------------------------------------------------------

    async def refresh(self, *, max_age: float = 0.0) -> None:
        """Take in posts published since the last refresh, unless one that
        started less than ``max_age`` seconds ago already did. Concurrent
        callers share one query; a caller never relies on a query that
        started more than ``max_age`` seconds before it asked."""
        asked = time.monotonic()
        if self.refreshed_at and asked - self.refreshed_at <= max_age:
            return
        while True:
            task = self._task
            if task is None or task.done():
                self._task_started = time.monotonic()
                task = self._task = asyncio.create_task(self._refresh())
            started = self._task_started
            await asyncio.shield(task)
            if started >= asked - max_age:
                return

    async def _refresh(self) -> None:
        started = time.monotonic()
        look = FIRST_LOOK if len(self.table) else self.size
        col = self.stores.db["posts"]
        while True:
            newest = [d["_id"] async for d in col.find({}, {"_id": 1}).sort("_id", DESCENDING).limit(look)]
            new = [pid for pid in newest if pid not in self.rows and pid not in self._passed]
            if len(new) < len(newest) or len(newest) < look or look >= self.size:
                break
            look = min(look * 4, self.size)
        if new:
            found = []
            for start in range(0, len(new), FETCH_CHUNK):
                found += (await posts.get_posts(self.stores, new[start : start + FETCH_CHUNK])).values()
            public = [p for p in found if p.visibility in POOL_VISIBILITIES]
            if len(self._passed) > 4 * self.size:
                self._passed.clear()
            self._passed.update(p.id for p in found if p.visibility not in POOL_VISIBILITIES)
            if public:
                counts = await counters.get_counts(self.stores, [p.id for p in public])
                self._add(public, counts)
        self.refreshed_at = started

    def _add(self, new: list, counts: dict[str, dict[str, int]]) -> None:
        new = [p for p in new if p.id not in self.rows and p.id not in self._passed]
        if not new:
            return
        incoming = build_table(
            [(p.id, p.author_id, unix(p.created_at), p.embedding, counts.get(p.id)) for p in new], self.dim
        )
        for p in new:
            self.posts[p.id] = msgspec.structs.replace(p, embedding=None)
        table = _concat(self.table, incoming)
        if len(table) > self.size:  # keep the newest
            keep = np.sort(np.argsort(-table.created, kind="stable")[: self.size])
            table = table.take(keep)
        self._set_table(table)

    def _set_table(self, table: Table) -> None:
        self.table = table
        self.rows = {pid: i for i, pid in enumerate(table.ids)}
        for pid in [pid for pid in self.posts if pid not in self.rows]:
            del self.posts[pid]
        self.restricted = np.asarray([self.posts[pid].visibility != "public" for pid in table.ids], dtype=bool)
        grouped: dict[str, list[int]] = {}
        for i, author in enumerate(table.authors):
            grouped.setdefault(author, []).append(i)
        self.by_author = {a: np.asarray(r, dtype=np.int64) for a, r in grouped.items()}
        self.version += 1
        self._trending = None
        watchers, self._watchers = self._watchers, []
        for waiter in watchers:
            if not waiter.done():
                waiter.set_result(None)

    async def moved(self, version: int) -> None:
        """Return once the pool's rows moved past ``version`` (a post came in or left)."""
        while self.version == version:
            waiter = asyncio.get_running_loop().create_future()
            self._watchers.append(waiter)
            await waiter

    # -- changes -------------------------------------------------------

    def apply(self, change: post_changes.PostChange) -> None:
        """Take in an edit or a delete (a ``feed.social.post_changes`` listener)."""
        post = change.post
        self.outside.pop(post.id, None)  # read again when the catalogue names it next
        if change.op == "deleted" or post.visibility not in POOL_VISIBILITIES:
            self._passed.add(post.id)
            self.drop([post.id])
        elif post.id in self.rows:
            self.posts[post.id] = post
            self.restricted[self.rows[post.id]] = post.visibility != "public"
        else:  # opened up: read it with its embedding, and take it in if it is new enough
            self._passed.discard(post.id)
            task = asyncio.create_task(self._take_in(post.id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def keep_outside(self, post) -> None:
        """Keep a catalogue post the rows do not hold (``feed.live.catalogue``)."""
        if post.id not in self.rows:
            self.outside[post.id] = post

    def forget_outside(self, post_id: str) -> None:
        self.outside.pop(post_id, None)

    def post(self, post_id: str):
        """The post as this process holds it (a row's, or a catalogue post's), or None."""
        return self.posts.get(post_id) or self.outside.get(post_id)

    async def _take_in(self, post_id: str) -> None:
        found = (await posts.get_posts(self.stores, [post_id])).get(post_id)
        if found is None or found.visibility not in POOL_VISIBILITIES:
            return
        oldest = float(self.table.created.min()) if len(self.table) >= self.size else float("-inf")
        if unix(found.created_at) > oldest:
            self._add([found], await counters.get_counts(self.stores, [post_id]))

    async def revalidate(self, chunk: int = 250) -> int:
        """Read every post of the pool again and take in what changed: for a
        process that may have missed change messages (its subscriber was
        away). Returns how many posts left."""
        ids = list(self.table.ids)
        gone: list[str] = []
        for start in range(0, len(ids), chunk):
            gone += await self._revalidate_part(ids[start : start + chunk])
        self.drop(gone)
        return len(gone)

    async def _revalidate_part(self, part: list[str]) -> list[str]:
        """Read ``part`` again, take in what changed, and return the ids no longer for the pool."""
        found = await posts.get_posts(self.stores, part, embeddings=False)
        gone: list[str] = []
        for pid in part:
            post = found.get(pid)
            if post is None or post.visibility not in POOL_VISIBILITIES:
                gone.append(pid)
            elif pid in self.posts:
                self.posts[pid] = post
                self.restricted[self.rows[pid]] = post.visibility != "public"
        return gone

    async def reread_next(self, n: int) -> int:
        """The next ``n`` posts of a rolling pass over the pool, read again:
        their counters (``resync_counts``) and the posts themselves
        (``revalidate``). A pass goes over the rows the pool held when it
        began; posts taken in since wait for the next one. Spreading the
        re-read keeps it from loading the database (and this process) in
        bursts: on nx-27017 a full pass of 10,000 posts took seconds of its
        CPU at once. Returns how many of them left the pool."""
        if not self._reread:
            self._reread = list(self.table.ids)
        part = [pid for pid in self._reread[: max(n, 0)] if pid in self.rows]
        del self._reread[: max(n, 0)]
        if not part:
            return 0
        await self._resync_part(part)
        gone = await self._revalidate_part(part)
        self.drop(gone)
        return len(gone)

    def drop(self, post_ids: list[str]) -> None:
        """Take posts out of the pool (their rows move)."""
        gone = {pid for pid in post_ids if pid in self.rows}
        if not gone:
            return
        keep = np.asarray([i for i, pid in enumerate(self.table.ids) if pid not in gone], dtype=np.int64)
        self._set_table(self.table.take(keep))

    async def resync_counts(self, chunk: int = 250) -> None:
        ids = list(self.table.ids)
        for start in range(0, len(ids), chunk):
            await self._resync_part(ids[start : start + chunk])

    async def _resync_part(self, part: list[str]) -> None:
        for post_id, found in (await counters.get_counts(self.stores, part)).items():
            self.update_counts(post_id, found)

    def update_counts(self, post_id: str, found: dict[str, int]) -> bool:
        row = self.rows.get(post_id)
        if row is None:
            return False
        for name in COUNT_FIELDS:
            if name in found:
                self.table.counts[name][row] = found[name]
        return True

    def id_array(self) -> np.ndarray:
        """The rows' post ids as a NumPy object array (for fancy indexing), kept per version."""
        if self._ids is None or self._ids[0] != self.version:
            self._ids = (self.version, np.asarray(self.table.ids, dtype=object))
        return self._ids[1]

    def counts_of(self, post_id: str) -> dict[str, int] | None:
        """The counters the pool holds for a post (kept live by the counts listener), or None."""
        row = self.rows.get(post_id)
        if row is None:
            return None
        return {name: int(self.table.counts[name][row]) for name in COUNT_FIELDS}

    def mask(self, post_ids) -> np.ndarray:
        """A boolean column: True on the rows of ``post_ids`` the pool holds."""
        out = np.zeros(len(self.table), dtype=bool)
        rows = [r for r in (self.rows.get(pid) for pid in post_ids) if r is not None]
        if rows:
            out[rows] = True
        return out

    def mask_authors(self, authors) -> np.ndarray:
        """A boolean column: True on the rows of posts by ``authors``."""
        out = np.zeros(len(self.table), dtype=bool)
        for author in authors:
            rows = self.by_author.get(author)
            if rows is not None:
                out[rows] = True
        return out

    # -- sources ---------------------------------------------------------

    def trending(self, now: float) -> np.ndarray:
        """Each post's trending value relative to the pool's best (0..1), recomputed at most every 2 s."""
        return self._trend(now)[1]

    def trending_best(self, now: float) -> float:
        """The raw trending value of the pool's best post (the scale of ``trending``)."""
        return self._trend(now)[2]

    def _trend(self, now: float) -> tuple[float, np.ndarray, float]:
        cached = self._trending
        if cached is None or now - cached[0] > 2.0 or len(cached[1]) != len(self.table):
            raw = trending.raw(self.table, now=now)
            best = float(raw.max()) if len(raw) else 0.0
            cached = self._trending = (now, raw / best if best > 0 else np.zeros(len(raw)), best)
        return cached

    def trending_rows(self, now: float, k: int) -> np.ndarray:
        return self._source(("trending", k), now, lambda: trending.top(self.trending(now), k))

    def fresh_rows(self, now: float, k: int, priors: Priors = PRIORS) -> np.ndarray:
        """The newest posts that still need exposure."""

        def make() -> np.ndarray:
            age_h = np.maximum(now - self.table.created, 0.0) / 3600.0
            rows = np.flatnonzero(fresh_mask(self.table.count("views"), age_h, priors))
            return rows[np.argsort(-self.table.created[rows], kind="stable")][:k]

        return self._source(("fresh", k, priors), now, make)

    def newest_rows(self, k: int) -> np.ndarray:
        return self._source(("newest", k), None, lambda: np.argsort(-self.table.created, kind="stable")[:k])

    def _source(self, key: tuple, now: float | None, make) -> np.ndarray:
        """A source's rows, the same for every viewer: kept per pool version
        and, when they depend on the time or on counters (``now`` given), for
        ``STATIC_MAX_AGE_S`` as ``static_features`` is. Read-only."""
        key = (self.version, *key)
        cached = self._sources.get(key)
        if cached is None or (now is not None and now - cached[0] > STATIC_MAX_AGE_S):
            if len(self._sources) > 32:
                self._sources.clear()
            rows = make()
            rows.flags.writeable = False
            cached = self._sources[key] = (now or 0.0, rows)
        return cached[1]

    def similarity(self, interest: np.ndarray | None) -> np.ndarray | None:
        """Cosine of every row with a unit ``interest`` vector (None without one)."""
        if interest is None or len(self.table) == 0 or interest.shape[0] != self.dim:
            return None
        return self.table.embeddings @ interest.astype(np.float32)

    def static_features(self, now: float, priors: Priors = PRIORS) -> np.ndarray:
        """The feature matrix of every row without the viewer's own columns
        (similarity, affinity, following, fof stay 0): engagement, recency,
        freshness, trending. Shared by every session; recomputed when rows move
        or after ``STATIC_MAX_AGE_S`` (counters change in place meanwhile)."""
        cached = self._static
        if cached is None or cached[0] != self.version or now - cached[1] > STATIC_MAX_AGE_S or cached[3] != priors:
            feats = feature_matrix(
                self.table, now=now, interest=None, affinity={}, following=set(), fof=set(),
                trending=self.trending(now), priors=priors,
            )
            cached = self._static = (self.version, now, feats, priors)
        return cached[2]

    def author_rows(self, authors: set[str], k: int) -> np.ndarray:
        parts = [self.by_author[a] for a in authors if a in self.by_author]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        arr = np.concatenate(parts)
        return arr[np.argsort(-self.table.created[arr], kind="stable")][:k]


def _concat(a: Table, b: Table) -> Table:
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    return Table(
        ids=a.ids + b.ids,
        authors=a.authors + b.authors,
        created=np.concatenate([a.created, b.created]),
        embeddings=np.concatenate([a.embeddings, b.embeddings]),
        counts={k: np.concatenate([a.count(k), b.count(k)]) for k in COUNT_FIELDS},
    )


concat = _concat
