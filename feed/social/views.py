"""Views and watch time.

Each view bumps the post's ``views``, ``watch_ms`` and (when watched to the
end) ``completes`` counters, and records the post in the viewer's history: a
Redis sorted set ``{ns}:seen:{user_id}`` of post id → last view time (ms),
trimmed to the newest ``HISTORY_MAX`` and expiring ``HISTORY_TTL_S`` after
the last view. The history is what the feed treats as "seen"."""

from __future__ import annotations

import time

from core.stores import Stores
from feed.social import counters

HISTORY_MAX = 2000
HISTORY_TTL_S = 30 * 24 * 3600
MAX_WATCH_MS = 60 * 60 * 1000  # one view counts at most an hour of watching


def history_key(stores: Stores, user_id: str) -> str:
    return stores.key("seen", user_id)


async def record_view(stores: Stores, user_id: str, post_id: str, *, watch_ms: int, completed: bool) -> None:
    """Count one view of ``post_id`` by ``user_id`` (nothing for an unknown post)."""
    counts = await counters.bump(stores, post_id, **view_deltas(watch_ms, completed))
    if counts:
        await record_history(stores, user_id, post_id)


def view_deltas(watch_ms: int, completed: bool) -> dict[str, int]:
    """What one view adds to a post's counters."""
    return {"views": 1, "watch_ms": min(max(0, int(watch_ms)), MAX_WATCH_MS), "completes": 1 if completed else 0}


async def record_history(stores: Stores, user_id: str, post_id: str) -> None:
    """Put ``post_id`` in the user's view history (what the feed treats as seen)."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        history_commands(pipe, stores, user_id, post_id)
        await pipe.execute()


def history_commands(pipe, stores: Stores, user_id: str, post_id: str) -> None:
    """Queue ``record_history``'s writes on the caller's pipeline."""
    key = history_key(stores, user_id)
    pipe.zadd(key, {post_id: int(time.time() * 1000)})
    pipe.zremrangebyrank(key, 0, -(HISTORY_MAX + 1))
    pipe.expire(key, HISTORY_TTL_S)


async def seen_posts(stores: Stores, user_id: str, *, limit: int = HISTORY_MAX) -> list[str]:
    """The posts ``user_id`` viewed, most recent first."""
    raw = await stores.redis.zrevrange(history_key(stores, user_id), 0, max(0, limit - 1))
    return [item.decode() if isinstance(item, bytes) else item for item in raw]


async def seen_among(stores: Stores, user_id: str, post_ids: list[str]) -> set[str]:
    """The posts among ``post_ids`` that ``user_id`` has viewed."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return set()
    scores = await stores.redis.zmscore(history_key(stores, user_id), ids)
    return {pid for pid, score in zip(ids, scores) if score is not None}
