"""The for-you score: a weighted sum of the features of ``feed.ranking.features``.

    score = sum(weight[f] * feature[f] for f in FEATURES)

The weights, and why (features are 0..1, or -1..1 for affinity and similarity):

| feature | weight | why |
| --- | ---: | --- |
| similarity | 2.0 | the strongest lever: what I like, I get more of; a liked topic rises within a session because the session's interest vector moves |
| like | 1.0 | smoothed like lift: 0.5 for an average post, so a post must earn its place with real likes, not a lucky 1 of 1 |
| complete | 0.8 | people watched to the end: the most honest signal for short videos |
| affinity | 0.8 | authors I liked, shared and finished before (negative for authors I skip) |
| recency | 0.6 | newer first, halving each day, without burying a great post from yesterday |
| fresh | 0.6 | exploration: young posts with few views get a boost so they collect the views their rates need (``feed.ranking.diversity`` also reserves a slot for them) |
| following | 0.5 | people I chose to follow |
| trending | 0.5 | what everyone engages with right now, time-decayed |
| watch | 0.4 | mean watch time; partly redundant with complete, so lighter |
| fof | 0.2 | followed by people I follow: a weaker social signal |

Ties and near-ties are broken by ``feed.ranking.diversity`` (author cap, MMR).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from feed.ranking.features import FEATURES


@dataclass(frozen=True)
class Weights:
    like: float = 1.0
    complete: float = 0.8
    watch: float = 0.4
    recency: float = 0.6
    affinity: float = 0.8
    similarity: float = 2.0
    following: float = 0.5
    fof: float = 0.2
    fresh: float = 0.6
    trending: float = 0.5

    def vector(self) -> np.ndarray:
        return self._vector

    @cached_property
    def _vector(self) -> np.ndarray:  # made once: scores() runs on every pick
        values = asdict(self)
        vector = np.asarray([values[name] for name in FEATURES], dtype=np.float64)
        vector.flags.writeable = False
        return vector


WEIGHTS = Weights()


def scores(features: np.ndarray, weights: Weights = WEIGHTS) -> np.ndarray:
    """One score per row of a feature matrix."""
    if features.shape[0] == 0:
        return np.zeros(0)
    return features @ weights.vector()
