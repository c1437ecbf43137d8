"""Posts: a published video with its caption. The ``posts`` collection."""

from __future__ import annotations

from datetime import datetime

import msgspec
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from core.errors import Conflict
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores


class Post(msgspec.Struct, kw_only=True):
    id: str
    author_id: str
    video_id: str
    caption: str
    created_at: datetime


def _collection(stores: Stores):
    return stores.db["posts"]


def _post(doc: dict) -> Post:
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return msgspec.convert(doc, Post, strict=False)


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index([("video_id", ASCENDING)], unique=True, name="one_post_per_video")
    await ensure_newest_by_index(stores, "posts", "author_id", "author_newest")


async def publish(stores: Stores, *, author_id: str, video_id: str, caption: str) -> Post:
    """Publish a video the caller has checked is the author's and completed; once per video."""
    post = Post(id=new_id("post"), author_id=author_id, video_id=video_id, caption=caption, created_at=utcnow())
    doc = msgspec.to_builtins(post, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    try:
        await _collection(stores).insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("this video is already published", code="already_published", details={"video_id": video_id}) from None
    return post


async def get_post(stores: Stores, post_id: str) -> Post | None:
    doc = await _collection(stores).find_one({"_id": post_id})
    return _post(doc) if doc else None


async def posts_by_authors(stores: Stores, author_ids: list[str], *, before: str | None, limit: int) -> list[Post]:
    """Newest first; ``before`` is the id of the last post of the previous page."""
    if not author_ids:
        return []
    query: dict = {"author_id": {"$in": author_ids}}
    if before:
        query["_id"] = {"$lt": before}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_post(doc) async for doc in cursor]
