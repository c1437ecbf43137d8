"""A user's taste: an interest vector in the posts' embedding space, and an
affinity score per author. The arithmetic is pure; ``load`` and ``record_commands`` are the
Redis side.

Each feed event is a ``Signal``: how far it pulls the interest vector towards
(positive) or away from (negative) the post's embedding, and how much it adds
to the author's affinity.

| event | interest | affinity |
| --- | ---: | ---: |
| like | +1.0 | +2.0 |
| share | +1.0 | +3.0 |
| complete | +0.5 | +1.0 |
| view, watched >= 3 s | +0.3 | +0.25 |
| view, watched < 1 s | -0.2 | -0.25 |
| skip | -0.6 | -0.5 |
| not_interested | -1.5 | -5.0 |
| impression | 0 | 0 |

A feed session keeps its own vector, starting from the user's long-term
direction (unit length) and moved by every event at full weight, so what comes
next adapts at once. The long-term vector moves by ``LONG_TERM_RATE`` of each
signal and decays by ``LONG_TERM_DECAY`` per update, so old tastes fade.
Keys (namespace-prefixed): ``feed:interest:<user>`` (float32 bytes) and
``feed:affinity:<user>`` (hash author -> score), kept 90 days after the last
change."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.stores import Stores
from feed.ranking.features import unit

LONG_TERM_RATE = 0.3
LONG_TERM_DECAY = 0.98
TTL_S = 90 * 24 * 3600
MAX_AFFINITY_AUTHORS = 2000  # beyond this, the hash is trimmed to the strongest ties


@dataclass(frozen=True)
class Signal:
    interest: float
    affinity: float


EVENTS = ("impression", "view", "complete", "like", "skip", "share", "not_interested")

_FIXED = {
    "impression": Signal(0.0, 0.0),
    "complete": Signal(0.5, 1.0),
    "like": Signal(1.0, 2.0),
    "share": Signal(1.0, 3.0),
    "skip": Signal(-0.6, -0.5),
    "not_interested": Signal(-1.5, -5.0),
}


def signal(event: str, watch_ms: int | None = None) -> Signal:
    if event == "view":
        ms = watch_ms or 0
        if ms >= 3000:
            return Signal(0.3, 0.25)
        if ms < 1000:
            return Signal(-0.2, -0.25)
        return Signal(0.0, 0.0)
    if event not in _FIXED:
        raise ValueError(f"unknown feed event {event!r}")
    return _FIXED[event]


def moved(vec: np.ndarray | None, embedding: np.ndarray | None, weight: float, *, decay: float = 1.0) -> np.ndarray | None:
    """``decay * vec + weight * unit(embedding)``; ``vec`` unchanged without an embedding."""
    direction = unit(embedding)
    if direction is None or weight == 0.0:
        return vec
    if vec is None or vec.shape != direction.shape:
        return (weight * direction).astype(np.float32)
    return (decay * vec + weight * direction).astype(np.float32)


def session_start(long_term: np.ndarray | None) -> np.ndarray | None:
    """Where a session's vector starts: the user's long-term direction."""
    return unit(long_term)


# --- Redis -----------------------------------------------------------------


def _interest_key(stores: Stores, user_id: str) -> str:
    return stores.key("feed", "interest", user_id)


def _affinity_key(stores: Stores, user_id: str) -> str:
    return stores.key("feed", "affinity", user_id)


def to_bytes(vec: np.ndarray | None) -> bytes:
    return b"" if vec is None else np.asarray(vec, dtype=np.float32).tobytes()


def from_bytes(raw: bytes | None) -> np.ndarray | None:
    if not raw:
        return None
    return np.frombuffer(raw, dtype=np.float32).copy()


async def load(stores: Stores, user_id: str) -> tuple[np.ndarray | None, dict[str, float]]:
    """The user's long-term interest vector and author affinities."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        load_commands(pipe, stores, user_id)
        raw, aff = await pipe.execute()
    return loaded(raw, aff)


def load_commands(pipe, stores: Stores, user_id: str) -> None:
    """Queue ``load``'s two reads on the caller's pipeline; ``loaded`` reads their replies."""
    pipe.get(_interest_key(stores, user_id))
    pipe.hgetall(_affinity_key(stores, user_id))


def loaded(raw: bytes | None, aff: dict) -> tuple[np.ndarray | None, dict[str, float]]:
    return from_bytes(raw), {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in aff.items()}


async def stored(stores: Stores, user_id: str) -> np.ndarray | None:
    """The long-term vector as stored (``record_commands``' ``current`` when the caller holds none)."""
    return from_bytes(await stores.redis.get(_interest_key(stores, user_id)))


def record_commands(
    pipe, stores: Stores, user_id: str, *, author_id: str, embedding: np.ndarray | None, sig: Signal, current: np.ndarray | None
) -> tuple[np.ndarray | None, int]:
    """Queue on ``pipe`` the writes of one signal to the long-term state, from
    ``current`` (the vector as the caller last read or wrote it). Returns the
    new vector and how many replies were queued (``recorded`` reads them).

    Read-modify-write: two sessions of one user updating at the same instant
    may lose one update of the vector (never the affinity, which is HINCRBYFLOAT)."""
    key_i, key_a = _interest_key(stores, user_id), _affinity_key(stores, user_id)
    updated = moved(current, embedding, LONG_TERM_RATE * sig.interest, decay=LONG_TERM_DECAY) if sig.interest else current
    queued = 0
    if sig.interest and updated is not None:
        pipe.set(key_i, to_bytes(updated), ex=TTL_S)
        queued += 1
    if sig.affinity:
        pipe.hincrbyfloat(key_a, author_id, sig.affinity)
        pipe.expire(key_a, TTL_S)
        pipe.hlen(key_a)  # last: ``recorded`` reads it
        queued += 3
    return updated, queued


async def recorded(stores: Stores, user_id: str, sig: Signal, replies: list) -> None:
    """After ``record_commands``' replies: trim the affinities when they grew past ``MAX_AFFINITY_AUTHORS``."""
    if sig.affinity and replies and int(replies[-1]) > MAX_AFFINITY_AUTHORS:
        await _trim_affinity(stores, _affinity_key(stores, user_id))


async def _trim_affinity(stores: Stores, key: str) -> None:
    scores = {k: float(v) for k, v in (await stores.redis.hgetall(key)).items()}
    weakest = sorted(scores, key=lambda k: abs(scores[k]))[: len(scores) - MAX_AFFINITY_AUTHORS]
    if weakest:
        await stores.redis.hdel(key, *weakest)
