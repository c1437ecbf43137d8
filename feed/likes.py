"""Likes. The ``likes`` collection: ``{_id: "<post_id>:<user_id>", post_id,
user_id, created_at}``.

The compound ``_id`` is the uniqueness of (post, user): a second like of the
same post fails the insert with a duplicate key and changes nothing, and only
an insert that succeeded (or a delete that removed a document) moves the
``likes`` counter, so the counter equals the number of like documents however
the likes and unlikes interleave.

These functions do not check who may see the post (the follow/block graph
belongs to ``accounts``): callers check first (server.post_views.visible_post)."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from core.errors import NotFound
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores
from feed import counters, notifications
from feed.posts import get_post


def _id(post_id: str, user_id: str) -> str:
    return f"{post_id}:{user_id}"


def _collection(stores: Stores):
    return stores.db["likes"]


async def ensure_indexes(stores: Stores) -> None:
    await ensure_newest_by_index(stores, "likes", "post_id", "post_newest")
    await ensure_newest_by_index(stores, "likes", "user_id", "user_newest")


async def like(stores: Stores, user_id: str, post_id: str) -> bool:
    """Like a post; True if newly liked, False if it was already liked.
    Bumps ``likes`` and notifies the author (not for one's own post)."""
    post = await get_post(stores, post_id)
    if post is None:
        raise NotFound(f"no post {post_id!r}", code="post_not_found")
    try:
        await _collection(stores).insert_one(
            {"_id": _id(post_id, user_id), "post_id": post_id, "user_id": user_id, "created_at": utcnow()}
        )
    except DuplicateKeyError:
        return False
    if not await counters.bump(stores, post_id, likes=1):
        # the post was deleted meanwhile: take the like back with it
        await _collection(stores).delete_one({"_id": _id(post_id, user_id)})
        raise NotFound(f"no post {post_id!r}", code="post_not_found")
    await notifications.notify(stores, recipient_id=post.author_id, actor_id=user_id, kind="like", post_id=post_id)
    return True


async def unlike(stores: Stores, user_id: str, post_id: str) -> bool:
    """Take a like back; True if there was one."""
    result = await _collection(stores).delete_one({"_id": _id(post_id, user_id)})
    if result.deleted_count != 1:
        return False
    await counters.bump(stores, post_id, likes=-1)
    await notifications.retract_like(stores, actor_id=user_id, post_id=post_id)
    return True


async def liked_by(stores: Stores, user_id: str, post_ids: list[str]) -> set[str]:
    """The posts among ``post_ids`` that ``user_id`` likes."""
    ids = [_id(pid, user_id) for pid in dict.fromkeys(post_ids)]
    if not ids:
        return set()
    return {doc["post_id"] async for doc in _collection(stores).find({"_id": {"$in": ids}}, {"post_id": 1})}


async def count_likes(stores: Stores, post_id: str) -> int:
    """The like documents of a post (what the ``likes`` counter must equal)."""
    return await _collection(stores).count_documents({"post_id": post_id})


async def delete_for_post(stores: Stores, post_id: str) -> None:
    await _collection(stores).delete_many({"post_id": post_id})
