"""Where for-you candidates come from, for one viewer.

Sources, in the order that names a candidate found by several:

| source | what | how many |
| --- | --- | ---: |
| ``following`` | posts of people I follow in the pool (their followers-only posts too: the pool's ``restricted`` rows reach followers alone), plus extras the caller read from outside the pool | 200 |
| ``fof`` | posts by authors that people I follow follow (friends of friends) | 200 |
| ``similar`` | the pool's posts nearest my interest vector (the exact product over the pool), plus the catalogue's beyond the pool (``similar_extras``: ``feed.live.catalogue``, an approximate index over every public post) | 300 + 300 |
| ``trending`` | the pool's top time-decayed engagement (``feed.ranking.trending``) | 200 |
| ``fresh`` | the pool's newest posts that still need exposure | 200 |
| ``recent`` | the pool's newest posts | 100 |
| ``explore`` | a random sample of the pool, so a long session never runs dry; when every source above comes back empty, the rows left, newest first | 100 |

The cameo graph (posts featuring people I know) joins as another source later.
``gather`` is pure over the pool's columns (numpy masks, no per-post Python
work)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feed.ranking import trending
from feed.ranking.features import Table, build_table
from feed.ranking.pool import PostPool, concat
from feed.viewer import Viewer

_RNG = np.random.default_rng()  # seeded from the OS once, not on every gather

SOURCES = ("following", "fof", "similar", "trending", "fresh", "recent", "explore")
LIMITS = {"following": 200, "fof": 200, "similar": 300, "trending": 200, "fresh": 200, "recent": 100, "explore": 100}


@dataclass
class Candidates:
    """The pool's rows that were picked (``rows``), then the extras (posts from
    outside the pool); ``sources`` and ``trending`` have one entry for each,
    in that order. Rows stay rows until the ranker has cut them down: copying
    a thousand embeddings to score them would cost more than the scoring."""

    rows: np.ndarray
    extras: Table
    sources: list[str]
    trending: np.ndarray  # relative to the pool's best, 0..1
    similarity: np.ndarray | None  # cosine of every pool row with the interest (None: no interest)

    def __len__(self) -> int:
        return len(self.rows) + len(self.extras)

    def ids(self, pool: PostPool, picked: np.ndarray) -> list[str]:
        """The post ids of the candidates at ``picked`` positions."""
        n = len(self.rows)
        picked = np.asarray(picked, dtype=np.int64)
        if len(self.extras) == 0:
            return pool.id_array()[self.rows[picked]].tolist()
        extra = np.asarray(self.extras.ids, dtype=object)
        return [pool.table.ids[self.rows[i]] if i < n else extra[i - n] for i in picked]

    def table(self, pool: PostPool, picked: np.ndarray | None = None) -> Table:
        """The candidates (those at ``picked`` positions, in that order) as a Table."""
        picked = np.arange(len(self)) if picked is None else np.asarray(picked, dtype=np.int64)
        n = len(self.rows)
        in_pool = picked[picked < n]
        part = pool.table.take(self.rows[in_pool])
        if len(in_pool) == len(picked):
            return part
        return concat(part, self.extras.take(picked[picked >= n] - n))


def gather(
    pool: PostPool,
    extras: Table,
    viewer: Viewer,
    *,
    interest: np.ndarray | None,
    now: float,
    excluded_rows: np.ndarray,
    exclude_ids: set[str],
    exclude_authors: set[str],
    rng: np.random.Generator | None = None,
    similar_extras: Table | None = None,
) -> Candidates:
    """Candidates from every source, each post once, none excluded.

    ``excluded_rows`` is a boolean column over the pool (``PostPool.mask`` of
    the ids not to serve); ``exclude_ids`` covers the extras. ``extras`` are
    followed authors' posts from outside the pool, ``similar_extras`` the
    catalogue's nearest posts outside it (both with embeddings)."""
    out_authors = exclude_authors | viewer.blocked | {viewer.user_id}
    table = pool.table
    n = len(table)
    blocked = excluded_rows.copy() if len(excluded_rows) == n else np.zeros(n, dtype=bool)
    blocked |= pool.mask_authors(out_authors)
    if n and pool.restricted.any():  # followers-only posts: for followers alone
        blocked |= viewer.derived(("unfollowed restricted", pool.version), lambda: pool.restricted & ~pool.mask_authors(viewer.following))
    taken = np.zeros(n, dtype=bool)
    sims = pool.similarity(interest) if n else None
    parts: list[np.ndarray] = []
    sources: list[str] = []

    def add(rows: np.ndarray, source: str, *, repeats: bool = False) -> None:
        if len(rows) == 0:
            return
        rows = rows[~blocked[rows] & ~taken[rows]]
        if repeats:  # a random sample may list a row twice
            _, first = np.unique(rows, return_index=True)
            rows = rows[np.sort(first)]
        rows = rows[: LIMITS[source]]
        taken[rows] = True
        parts.append(rows)
        sources.extend([source] * len(rows))

    if n:
        k = 4 * LIMITS["following"]
        add(viewer.derived(("following", pool.version, k), lambda: pool.author_rows(viewer.following, k)), "following")
        k = 4 * LIMITS["fof"]
        add(viewer.derived(("fof", pool.version, k), lambda: pool.author_rows(viewer.fof, k)), "fof")
        if sims is not None:
            add(_top(sims, 4 * LIMITS["similar"]), "similar")
        add(pool.trending_rows(now, 4 * LIMITS["trending"]), "trending")
        add(pool.fresh_rows(now, 4 * LIMITS["fresh"]), "fresh")
        add(pool.newest_rows(4 * LIMITS["recent"]), "recent")
        add((rng or _RNG).integers(0, n, 8 * LIMITS["explore"]), "explore", repeats=True)
        if not parts:  # the samples above missed the few rows left: take them all, newest first
            add(np.flatnonzero(~blocked)[::-1], "explore")
    rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    trend = pool.trending(now)[rows] if n else np.zeros(0)
    picked = build_table([], pool.dim)

    # followed authors' posts the pool does not hold (followers-only), then the catalogue's nearest
    seen_extra: set[str] = set()
    for table_, source in ((extras, "following"), (similar_extras, "similar")):
        if table_ is None or len(table_) == 0:
            continue
        extra_rows = [
            i for i, pid in enumerate(table_.ids)
            if pid not in pool.rows and pid not in exclude_ids and pid not in seen_extra and table_.authors[i] not in out_authors
        ][: LIMITS[source] if source == "similar" else None]
        if not extra_rows or table_.embeddings.shape[1] not in (pool.dim, 0):
            continue
        part = table_.take(extra_rows)
        seen_extra.update(part.ids)
        if part.embeddings.shape[1] == 0:
            part.embeddings = np.zeros((len(part), pool.dim), dtype=np.float32)
        raw = trending.raw(part, now=now)
        best = max(pool.trending_best(now) if n else 0.0, float(raw.max()) if len(raw) else 0.0)
        picked = concat(picked, part)
        sources += [source] * len(part)
        trend = np.concatenate([trend, raw / best if best > 0 else np.zeros(len(part))])
    return Candidates(rows=rows, extras=picked, sources=sources, trending=np.clip(trend, 0.0, 1.0), similarity=sims)


def _top(values: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(values))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-values, k - 1)[:k]
    return part[np.argsort(-values[part], kind="stable")]
