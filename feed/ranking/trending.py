"""Trending: the posts with the most time-decayed engagement right now. Pure.

The raw value is ``feed.ranking.features.trending_raw``: likes x1, comments x2,
shares x3, remixes x3, completes x0.5, views x0.05, halved every
``HALF_LIFE_H`` hours of the post's age. It is shown to the scorer relative to
the best post of the pool (0..1), and its top ``k`` are a candidate source."""

from __future__ import annotations

import numpy as np

from feed.ranking.features import Table, trending_raw

HALF_LIFE_H = 12.0


def raw(table: Table, *, now: float, half_life_h: float = HALF_LIFE_H) -> np.ndarray:
    return trending_raw(table, now=now, half_life_h=half_life_h)


def relative(table: Table, *, now: float, half_life_h: float = HALF_LIFE_H) -> np.ndarray:
    raw = trending_raw(table, now=now, half_life_h=half_life_h)
    top = float(raw.max()) if len(raw) else 0.0
    return raw / top if top > 0 else np.zeros(len(raw))


def top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest positive values, best first."""
    positive = np.flatnonzero(values > 0)
    if len(positive) <= k:
        return positive[np.argsort(-values[positive], kind="stable")]
    part = positive[np.argpartition(-values[positive], k - 1)[:k]]
    return part[np.argsort(-values[part], kind="stable")]
