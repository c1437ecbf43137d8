"""Turning scores into a sequence: author cap, exploration slot, MMR. Pure, no I/O.

``select`` picks items greedily, one position at a time, given what was
served just before (the history, oldest first):

1. **Author cap** (a hard rule): at most ``author_cap`` posts of one author in
   any ``author_window`` consecutive items, counting the history. A candidate
   that would break it is not eligible at this position; if no candidate is
   eligible, fewer items come back.
2. **Exploration slot**: when the last ``explore_every - 1`` items held no
   fresh post (``feed.ranking.features.fresh_mask``), the next one is the best fresh
   candidate, if there is one. So fresh posts get exposure however well
   established posts score.
3. **MMR** (maximal marginal relevance) among the eligible:
   ``score - mmr_penalty * max cosine similarity`` to the items picked in this
   call and the last ``mmr_memory`` of the history (the penalty is in score
   units, ``feed.ranking.scoring``). Near duplicates of what was just shown sink; a
   clearly better post still wins.
"""

from __future__ import annotations

from collections import Counter, deque
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
PAIRWISE_FROM = 24  # positions from which ``select`` computes all pairwise similarities up front ...
PAIRWISE_MAX_ROWS = 1000  # ... for at most this many candidates


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
    """Indices into the candidates, in serving order (at most ``n``).

    It runs on every pick of every session, over a shortlist of a hundred or
    so rows (and, in the opening builder, for a hundred positions at a time),
    so it keeps the work per position small: the candidates' rows are
    grouped by author once, a taken row leaves the value column for good,
    the author window and the run since the last fresh item are kept as
    they move, and the value column is copied only at a position where an
    author is at the cap."""
    count = len(scores)
    if count == 0 or n <= 0:
        return []
    score = np.asarray(scores, dtype=np.float64)
    base = score.copy()  # score - penalty * (max similarity to the recent items), kept current
    fresh = np.asarray(fresh, dtype=bool)
    penalty = rules.mmr_penalty
    if history_embeddings is not None and len(history_embeddings) and rules.mmr_memory > 0 and penalty:
        recent = np.asarray(history_embeddings[-rules.mmr_memory :], dtype=np.float32)
        if recent.shape[1] == embeddings.shape[1]:
            base -= penalty * np.max(embeddings @ recent.T, axis=1).astype(np.float64)
    capped = rules.author_cap > 0 and rules.author_window > 1
    rows_of: dict[str, list[int]] = {}
    if capped:
        for i, author in enumerate(authors):
            rows_of.setdefault(author, []).append(i)
    explore = rules.explore_every > 1 and bool(fresh.any())
    # for many positions at once (the opening builder's hundred), every row's
    # value after each possible pick comes from one matrix product up front
    # rather than one product per position
    after_pick = None
    if penalty and min(n, count) >= PAIRWISE_FROM and count <= PAIRWISE_MAX_ROWS:
        after_pick = embeddings @ embeddings.T
        after_pick *= -penalty
        after_pick = score + after_pick  # row b: score - penalty * similarity to b

    # the author window (the last ``author_window - 1`` authors, counted) and the
    # run of non-fresh items, both kept as they move rather than recounted
    span = rules.author_window - 1 if capped else 0
    window = deque(list(history_authors)[-span:] if span else (), maxlen=span or None)
    in_window = Counter(window)
    run_needed = rules.explore_every - 1
    since_fresh = 0
    for flag in history_fresh:
        since_fresh = 0 if flag else since_fresh + 1
    fresh_list = fresh.tolist()
    picked: list[int] = []
    for _ in range(n):
        value = base
        if capped:
            full = [a for a, c in in_window.items() if c >= rules.author_cap and a in rows_of]
            if full:
                value = base.copy()
                for author in full:
                    value[rows_of[author]] = -np.inf
        if explore and since_fresh >= run_needed:
            fresh_value = np.where(fresh, value, -np.inf)
            if fresh_value.max() > -np.inf:
                value = fresh_value
        best = int(value.argmax())
        if value[best] == -np.inf:
            break  # nothing eligible
        picked.append(best)
        base[best] = -np.inf  # taken: never eligible again (the minimum below keeps it so)
        if span:
            if len(window) == span:
                gone = window[0]
                in_window[gone] -= 1
                if not in_window[gone]:
                    del in_window[gone]
            window.append(authors[best])
            in_window[authors[best]] += 1
        since_fresh = 0 if fresh_list[best] else since_fresh + 1
        if penalty and len(picked) < n:
            # max similarity grows by the new pick: score - penalty * max(...) only falls
            if after_pick is not None:
                np.minimum(base, after_pick[best], out=base)
            else:
                drop = embeddings @ embeddings[best]  # similarity to the new pick, then the value it leaves
                drop *= -penalty
                np.minimum(base, score + drop, out=base)
    return picked


def author_cap_holds(authors: list[str], cap: int = RULES.author_cap, window: int = RULES.author_window) -> bool:
    """True when no ``window`` consecutive entries hold more than ``cap`` of one author."""
    for start in range(max(1, len(authors) - window + 1)):
        if any(c > cap for c in Counter(authors[start : start + window]).values()):
            return False
    return True


def within_cap(authors: list[str], history_authors: list[str] = (), rules: Rules = RULES) -> list[bool]:  # type: ignore[assignment]
    """Which entries of a sequence made earlier to keep, in order, so that the
    author cap holds counting the history: an entry stays when its author has
    fewer than ``author_cap`` posts among the last ``author_window - 1`` kept
    before it. For a sequence some of whose entries went away since it was made:
    closing their gaps can bring one author's posts into one window."""
    if rules.author_cap <= 0 or rules.author_window <= 1:
        return [True] * len(authors)
    span = rules.author_window - 1
    window = deque(list(history_authors)[-span:], maxlen=span)
    keep = []
    for author in authors:
        ok = window.count(author) < rules.author_cap
        keep.append(ok)
        if ok:
            window.append(author)
    return keep
