"""Turning scores into a sequence: author cap, exploration slot, MMR. Pure, no I/O.

``select`` picks items greedily, one position at a time, given what was
served just before (the history, oldest first):

1. **Author cap** (a hard rule): at most ``author_cap`` posts of one author in
   any ``author_window`` consecutive items, counting the history. A candidate
   that would break it is not eligible at this position; if no candidate is
   eligible, fewer items come back.
2. **Exploration slot**: when the last ``explore_every - 1`` items held no
   fresh post (``feed.features.fresh_mask``), the next one is the best fresh
   candidate, if there is one. So fresh posts get exposure however well
   established posts score.
3. **MMR** (maximal marginal relevance) among the eligible:
   ``score - mmr_penalty * max cosine similarity`` to the items picked in this
   call and the last ``mmr_memory`` of the history (the penalty is in score
   units, ``feed.scoring``). Near duplicates of what was just shown sink; a
   clearly better post still wins.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rules:
    author_cap: int = 2
    author_window: int = 10
    explore_every: int = 5
    mmr_penalty: float = 1.0
    mmr_memory: int = 3


RULES = Rules()


def select(
    scores: np.ndarray,
    authors: list[str],
    embeddings: np.ndarray,
    fresh: np.ndarray,
    n: int,
    *,
    history_authors: list[str] = (),  # type: ignore[assignment]
    history_fresh: list[bool] = (),  # type: ignore[assignment]
    history_embeddings: np.ndarray | None = None,
    rules: Rules = RULES,
) -> list[int]:
    """Indices into the candidates, in serving order (at most ``n``)."""
    count = len(scores)
    if count == 0 or n <= 0:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    fresh = np.asarray(fresh, dtype=bool)

    author_ids, author_of = np.unique(np.asarray(authors, dtype=object), return_inverse=True)
    index_of_author = {a: i for i, a in enumerate(author_ids)}

    max_sim = np.zeros(count)
    if history_embeddings is not None and len(history_embeddings) and rules.mmr_memory > 0:
        recent = np.asarray(history_embeddings[-rules.mmr_memory :], dtype=np.float32)
        if recent.shape[1] == embeddings.shape[1]:
            max_sim = np.max(embeddings @ recent.T, axis=1).astype(np.float64)

    seq_authors = list(history_authors)
    seq_fresh = list(history_fresh)
    taken = np.zeros(count, dtype=bool)
    picked: list[int] = []
    for _ in range(n):
        eligible = ~taken
        if rules.author_cap > 0 and rules.author_window > 1:
            window = Counter(seq_authors[-(rules.author_window - 1) :])
            full = [index_of_author[a] for a, c in window.items() if c >= rules.author_cap and a in index_of_author]
            if full:
                eligible &= ~np.isin(author_of, full)
        if not eligible.any():
            break
        if rules.explore_every > 1:
            run = seq_fresh[-(rules.explore_every - 1) :]
            if len(run) == rules.explore_every - 1 and not any(run):
                fresh_eligible = eligible & fresh
                if fresh_eligible.any():
                    eligible = fresh_eligible
        value = scores - rules.mmr_penalty * max_sim
        value = np.where(eligible, value, -np.inf)
        best = int(np.argmax(value))
        picked.append(best)
        taken[best] = True
        seq_authors.append(authors[best])
        seq_fresh.append(bool(fresh[best]))
        max_sim = np.maximum(max_sim, (embeddings @ embeddings[best]).astype(np.float64))
    return picked


def author_cap_holds(authors: list[str], cap: int = RULES.author_cap, window: int = RULES.author_window) -> bool:
    """True when no ``window`` consecutive entries hold more than ``cap`` of one author."""
    for start in range(max(1, len(authors) - window + 1)):
        if any(c > cap for c in Counter(authors[start : start + window]).values()):
            return False
    return True
