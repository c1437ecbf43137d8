"""Views and watch time.

A view bumps the post's ``views``, ``watch_ms`` and (when watched to the
end) ``completes`` counters once per viewer and post in ``VIEW_WINDOW_S``
(``{ns}:viewed:{user_id}:{post_id}``, set if absent with that expiry): more
views of the same post by the same user within the window count nothing.
``watch_ms`` counts at most the clip's length (``Post.duration_ms``) and
never more than an hour. Every view records the post in the viewer's
history: a Redis sorted set ``{ns}:seen:{user_id}`` of post id → last view
time (ms), trimmed to the newest ``HISTORY_MAX`` and expiring
``HISTORY_TTL_S`` after the last view. The history is what the feed treats
as "seen"."""

from __future__ import annotations

import time

from core.stores import Stores
from feed.social import counters

HISTORY_MAX = 2000
HISTORY_TTL_S = 30 * 24 * 3600
MAX_WATCH_MS = 60 * 60 * 1000  # one view counts at most an hour of watching
VIEW_WINDOW_S = 3600  # a viewer's views of one post count once in this long


def history_key(stores: Stores, user_id: str) -> str:
    return stores.key("seen", user_id)


def once_key(stores: Stores, user_id: str, post_id: str) -> str:
    return stores.key("viewed", user_id, post_id)


async def count_once(stores: Stores, user_id: str, post_id: str) -> bool:
    """True for the first view of ``post_id`` by ``user_id`` in ``VIEW_WINDOW_S``
    (the one that counts), False for the others."""
    return bool(await stores.redis.set(once_key(stores, user_id, post_id), 1, nx=True, ex=VIEW_WINDOW_S))


async def record_view(
    stores: Stores, user_id: str, post_id: str, *, watch_ms: int, completed: bool, length_ms: int | None = None
) -> bool:
    """Count a view of ``post_id`` by ``user_id`` (once per ``VIEW_WINDOW_S``;
    ``watch_ms`` capped at ``length_ms``, the clip's length, when known) and
    record it in the viewer's history. Returns whether the view counted."""
    counted = await count_once(stores, user_id, post_id)
    if counted:
        await counters.bump(stores, post_id, **view_deltas(watch_ms, completed, length_ms))
    await record_history(stores, user_id, post_id)
    return counted


def view_deltas(watch_ms: int, completed: bool, length_ms: int | None = None) -> dict[str, int]:
    """What one view adds to a post's counters: ``watch_ms`` at most the clip's length (and an hour)."""
    cap = MAX_WATCH_MS if not length_ms or length_ms <= 0 else min(int(length_ms), MAX_WATCH_MS)
    return {"views": 1, "watch_ms": min(max(0, int(watch_ms)), cap), "completes": 1 if completed else 0}


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
