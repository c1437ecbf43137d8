"""Ranking features: pure functions over columns of candidate data, no I/O.

Every feature of a candidate post is a number in a small fixed range, so the
weights in ``feed.ranking.scoring`` can be read against each other:

| feature | range | what it measures |
| --- | --- | --- |
| ``like`` | 0..1 | Bayesian-smoothed like rate, as lift over the prior: r / (r + prior); 0.5 = average |
| ``complete`` | 0..1 | Bayesian-smoothed completion rate (completes / views) |
| ``watch`` | 0..1 | smoothed mean watch time per view, 1 - exp(-seconds / 8) |
| ``recency`` | 0..1 | 0.5 ** (age in hours / half-life) |
| ``affinity`` | -1..1 | tanh(my interaction score with the author / 5) |
| ``similarity`` | -1..1 | cosine of the post's embedding with my interest vector (0 without either) |
| ``following`` | 0 or 1 | I follow the author |
| ``fof`` | 0 or 1 | someone I follow follows the author |
| ``fresh`` | 0 or 1 | the post needs exposure: few views and young |
| ``trending`` | 0..1 | time-decayed engagement, relative to the best in the pool |

Smoothing: a post with no views has exactly the prior rate; each view moves it
towards the observed rate, by as much as one of ``strength`` pseudo-views.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FEATURES: tuple[str, ...] = (
    "like",
    "complete",
    "watch",
    "recency",
    "affinity",
    "similarity",
    "following",
    "fof",
    "fresh",
    "trending",
)
INDEX = {name: i for i, name in enumerate(FEATURES)}

COUNT_FIELDS: tuple[str, ...] = ("likes", "comments", "views", "completes", "watch_ms", "remixes", "shares")


@dataclass(frozen=True)
class Priors:
    like_rate: float = 0.05  # likes per view of an average post
    complete_rate: float = 0.30  # completes per view
    watch_s: float = 4.0  # seconds watched per view
    strength: float = 20.0  # pseudo-views behind each prior
    watch_scale_s: float = 8.0  # watch feature = 1 - exp(-seconds / this)
    half_life_h: float = 24.0  # recency halves every this many hours
    fresh_views: int = 50  # fewer views than this, and
    fresh_age_h: float = 48.0  # younger than this: the post needs exposure
    affinity_scale: float = 5.0  # affinity feature = tanh(score / this)


PRIORS = Priors()


def smoothed_rate(successes: np.ndarray, trials: np.ndarray, prior: float, strength: float) -> np.ndarray:
    """(successes + strength * prior) / (trials + strength): the Beta-Binomial posterior mean."""
    return (np.asarray(successes, dtype=np.float64) + strength * prior) / (np.asarray(trials, dtype=np.float64) + strength)


def like_feature(likes: np.ndarray, views: np.ndarray, priors: Priors = PRIORS) -> np.ndarray:
    # likes can run ahead of counted views (a like from a share link): a view is at least a like
    rate = smoothed_rate(likes, np.maximum(views, likes), priors.like_rate, priors.strength)
    return rate / (rate + priors.like_rate)


def complete_feature(completes: np.ndarray, views: np.ndarray, priors: Priors = PRIORS) -> np.ndarray:
    return np.clip(smoothed_rate(completes, np.maximum(views, completes), priors.complete_rate, priors.strength), 0.0, 1.0)


def watch_feature(watch_ms: np.ndarray, views: np.ndarray, priors: Priors = PRIORS) -> np.ndarray:
    seconds = smoothed_rate(np.asarray(watch_ms, dtype=np.float64) / 1000.0, views, priors.watch_s, priors.strength)
    return 1.0 - np.exp(-np.maximum(seconds, 0.0) / priors.watch_scale_s)


def recency_feature(age_h: np.ndarray, priors: Priors = PRIORS) -> np.ndarray:
    return np.power(0.5, np.maximum(np.asarray(age_h, dtype=np.float64), 0.0) / priors.half_life_h)


def fresh_mask(views: np.ndarray, age_h: np.ndarray, priors: Priors = PRIORS) -> np.ndarray:
    return (np.asarray(views) < priors.fresh_views) & (np.asarray(age_h) < priors.fresh_age_h)


def affinity_feature(raw: np.ndarray, priors: Priors = PRIORS) -> np.ndarray:
    return np.tanh(np.asarray(raw, dtype=np.float64) / priors.affinity_scale)


def unit(vec: np.ndarray | None) -> np.ndarray | None:
    """``vec`` scaled to length 1, or None for a missing or zero vector."""
    if vec is None:
        return None
    norm = float(np.linalg.norm(vec))
    return None if norm < 1e-9 else (vec / norm).astype(np.float32)


def similarity_feature(embeddings: np.ndarray, interest: np.ndarray | None) -> np.ndarray:
    """Cosine of each row with the interest vector; rows are unit length or zero
    (a post without an embedding scores 0, as does everyone without an interest)."""
    n = embeddings.shape[0]
    direction = unit(interest)
    if direction is None or n == 0 or embeddings.shape[1] != direction.shape[0]:
        return np.zeros(n)
    return np.clip(embeddings @ direction, -1.0, 1.0).astype(np.float64)


@dataclass
class Table:
    """Columns of candidate posts: what the features are computed from.

    ``embeddings`` holds one unit-length row per post (zeros where a post has
    none); counts are the post's engagement counters; ``created`` is unix seconds."""

    ids: list[str]
    authors: list[str]
    created: np.ndarray
    embeddings: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def count(self, name: str) -> np.ndarray:
        found = self.counts.get(name)
        return found if found is not None else np.zeros(len(self.ids))

    def take(self, rows: np.ndarray | list[int]) -> Table:
        rows = np.asarray(rows, dtype=np.int64)
        return Table(
            ids=[self.ids[i] for i in rows],
            authors=[self.authors[i] for i in rows],
            created=self.created[rows],
            embeddings=self.embeddings[rows],
            counts={k: v[rows] for k, v in self.counts.items()},
        )


def build_table(rows: list[tuple[str, str, float, list[float] | None, dict | None]], dim: int) -> Table:
    """A Table from ``(post id, author id, created unix s, embedding, counts)`` rows."""
    n = len(rows)
    emb = np.zeros((n, dim), dtype=np.float32)
    counts = {name: np.zeros(n) for name in COUNT_FIELDS}
    for i, (_, _, _, vector, post_counts) in enumerate(rows):
        if vector is not None and len(vector) == dim:
            v = unit(np.asarray(vector, dtype=np.float32))
            if v is not None:
                emb[i] = v
        if post_counts:
            for name in COUNT_FIELDS:
                counts[name][i] = post_counts.get(name, 0) or 0
    return Table(
        ids=[r[0] for r in rows],
        authors=[r[1] for r in rows],
        created=np.asarray([r[2] for r in rows], dtype=np.float64),
        embeddings=emb,
        counts=counts,
    )


def trending_raw(table: Table, *, now: float, half_life_h: float = 12.0) -> np.ndarray:
    """Time-decayed engagement: weighted interactions, halved every ``half_life_h``
    hours of the post's age (``feed.ranking.trending`` picks the top of these)."""
    engagement = (
        1.0 * table.count("likes")
        + 2.0 * table.count("comments")
        + 3.0 * table.count("shares")
        + 3.0 * table.count("remixes")
        + 0.5 * table.count("completes")
        + 0.05 * table.count("views")
    )
    age_h = np.maximum(now - table.created, 0.0) / 3600.0
    return engagement * np.power(0.5, age_h / half_life_h)


def feature_matrix(
    table: Table,
    *,
    now: float,
    interest: np.ndarray | None,
    affinity: dict[str, float],
    following: set[str],
    fof: set[str],
    trending: np.ndarray | None = None,
    priors: Priors = PRIORS,
) -> np.ndarray:
    """An (n, len(FEATURES)) matrix, one row per post of ``table``.

    ``trending`` is the posts' raw trending value over the pool's best (0..1);
    computed from the table alone when not given."""
    n = len(table)
    out = np.zeros((n, len(FEATURES)))
    if n == 0:
        return out
    views = table.count("views")
    age_h = np.maximum(now - table.created, 0.0) / 3600.0
    out[:, INDEX["like"]] = like_feature(table.count("likes"), views, priors)
    out[:, INDEX["complete"]] = complete_feature(table.count("completes"), views, priors)
    out[:, INDEX["watch"]] = watch_feature(table.count("watch_ms"), views, priors)
    out[:, INDEX["recency"]] = recency_feature(age_h, priors)
    if affinity:
        out[:, INDEX["affinity"]] = affinity_feature(np.asarray([affinity.get(a, 0.0) for a in table.authors]), priors)
    out[:, INDEX["similarity"]] = similarity_feature(table.embeddings, interest)
    if following:
        out[:, INDEX["following"]] = [1.0 if a in following else 0.0 for a in table.authors]
    if fof:
        out[:, INDEX["fof"]] = [1.0 if a in fof else 0.0 for a in table.authors]
    out[:, INDEX["fresh"]] = fresh_mask(views, age_h, priors)
    if trending is None:
        raw = trending_raw(table, now=now)
        top = float(raw.max()) if n else 0.0
        trending = raw / top if top > 0 else np.zeros(n)
    out[:, INDEX["trending"]] = np.clip(trending, 0.0, 1.0)
    return out
