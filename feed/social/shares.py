"""Shares. The ``shares`` collection: ``{_id: "<post_id>:<user_id>", post_id,
user_id, created_at}``.

Sharing returns the post's share link and counts the sharer once: the
``shares`` counter is the number of people who shared the post (a repeated
share returns the same link and changes nothing), so it cannot be inflated by
one account. Callers check that the sharer may see the post."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from core.errors import NotFound
from core.stores import Stores
from feed.social import counters


def share_path(post_id: str) -> str:
    """The public path of a post's share link (served by GET /p/{post_id})."""
    return f"/p/{post_id}"


def _collection(stores: Stores):
    return stores.db["shares"]


async def ensure_indexes(stores: Stores) -> None:
    await _collection(stores).create_index([("post_id", ASCENDING)], name="post")


async def share(stores: Stores, user_id: str, post_id: str) -> str:
    """Share a post: returns its link; the first share by ``user_id`` bumps ``shares``."""
    key = f"{post_id}:{user_id}"
    try:
        await _collection(stores).insert_one({"_id": key, "post_id": post_id, "user_id": user_id, "created_at": utcnow()})
    except DuplicateKeyError:
        return share_path(post_id)
    if not await counters.bump(stores, post_id, shares=1):
        await _collection(stores).delete_one({"_id": key})
        raise NotFound(f"no post {post_id!r}", code="post_not_found")
    return share_path(post_id)


async def delete_for_post(stores: Stores, post_id: str) -> None:
    await _collection(stores).delete_many({"post_id": post_id})
