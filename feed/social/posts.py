"""Posts: a published video with its caption. The ``posts`` collection.

A post document holds the post (author, video, caption, visibility, the
prompt it was made from, its text embedding, the post it remixes) and its
counters (``feed.social.counters``). One post per video: an unpublished completed
video is a draft its owner alone sees. Deleting a post removes it with its
likes, comments, shares and notifications; the video stays, a draft again,
and remixes of it keep their ``remix_of`` (the chain ends there). Edits and
deletes are told to every api process (``feed.social.post_changes``)."""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from core.clock import utcnow
from core.errors import Conflict
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores
from feed.social import counters
from policy.visibility import Visibility

log = logging.getLogger("fabula.feed")

UNSET = msgspec.UNSET


class Post(msgspec.Struct, kw_only=True):
    id: str
    author_id: str
    video_id: str
    caption: str
    created_at: datetime
    visibility: Visibility = "public"
    prompt: str = ""
    embedding: list[float] | None = None  # feed.ranking.embeddings of prompt + caption, computed at publish
    remix_of: str | None = None  # the id of the post this one remixes
    edited_at: datetime | None = None


_FIELDS = frozenset(Post.__struct_fields__) - {"id"}


def _collection(stores: Stores):
    return stores.db["posts"]


def _to_post(doc: dict) -> Post:
    fields = {k: v for k, v in doc.items() if k in _FIELDS}
    fields["id"] = doc["_id"]
    return msgspec.convert(fields, Post, strict=False)


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index([("video_id", ASCENDING)], unique=True, name="one_post_per_video")
    await ensure_newest_by_index(stores, "posts", "author_id", "author_newest")
    await ensure_newest_by_index(stores, "posts", "visibility", "visibility_newest")
    await ensure_newest_by_index(stores, "posts", "remix_of", "remix_of_newest")


async def publish(
    stores: Stores,
    *,
    author_id: str,
    video_id: str,
    caption: str,
    visibility: Visibility = "public",
    prompt: str = "",
    remix_of: Post | None = None,
) -> Post:
    """Publish a video the caller has checked is the author's and completed; once per video.

    ``remix_of`` is the source post (the caller checked the author may see it):
    its ``remixes`` counter moves and its author is notified."""
    from feed.ranking.embeddings import embed_async, post_text

    if await _collection(stores).count_documents({"video_id": video_id}, limit=1):
        raise _already_published(video_id)  # cheap early answer; the unique index decides races
    embedding: list[float] | None
    try:
        [embedding] = await embed_async([post_text(prompt, caption)])
    except Exception:  # a missing model must not stop publishing; ranking copes without
        log.exception("post embedding failed", extra={"video_id": video_id})
        embedding = None
    post = Post(
        id=new_id("post"),
        author_id=author_id,
        video_id=video_id,
        caption=caption,
        created_at=utcnow(),
        visibility=visibility,
        prompt=prompt,
        embedding=embedding,
        remix_of=remix_of.id if remix_of else None,
    )
    doc = msgspec.to_builtins(post, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    doc.update(counters.initial_fields())
    try:
        await _collection(stores).insert_one(doc)
    except DuplicateKeyError:
        raise _already_published(video_id) from None
    if remix_of is not None:
        from feed.social import notifications

        await counters.bump(stores, remix_of.id, remixes=1)
        await notifications.notify(stores, recipient_id=remix_of.author_id, actor_id=author_id, kind="remix", post_id=post.id)
    return post


def _already_published(video_id: str) -> Conflict:
    return Conflict("this video is already published", code="already_published", details={"video_id": video_id})


async def get_post(stores: Stores, post_id: str) -> Post | None:
    doc = await _collection(stores).find_one({"_id": post_id})
    return _to_post(doc) if doc else None


async def get_posts(stores: Stores, ids: list[str], *, embeddings: bool = True) -> dict[str, Post]:
    """The posts among ``ids`` that exist, by id; without their embeddings
    when ``embeddings`` is False (384 floats a post are most of a read)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    projection = None if embeddings else {"embedding": 0}
    return {doc["_id"]: _to_post(doc) async for doc in _collection(stores).find({"_id": {"$in": ids}}, projection)}


async def post_for_video(stores: Stores, video_id: str) -> Post | None:
    doc = await _collection(stores).find_one({"video_id": video_id})
    return _to_post(doc) if doc else None


async def published_video_ids(stores: Stores, video_ids: list[str]) -> set[str]:
    """The ids among ``video_ids`` that have a post."""
    if not video_ids:
        return set()
    cursor = _collection(stores).find({"video_id": {"$in": list(video_ids)}}, {"video_id": 1})
    return {doc["video_id"] async for doc in cursor}


def id_floor(since: datetime) -> str:
    """The smallest post id minted at or after ``since`` (ids sort by time)."""
    millis = max(0, int(since.timestamp() * 1000))
    return "post_" + str(ULID.from_int(millis << 80)).lower()


async def recent_posts(stores: Stores, *, since: datetime | None, limit: int, visibility: str | None = "public") -> list[Post]:
    """Newest first, created at or after ``since``; ``visibility=None`` takes every visibility."""
    query: dict = {}
    if visibility is not None:
        query["visibility"] = visibility
    if since is not None:
        query["_id"] = {"$gte": id_floor(since)}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_to_post(doc) async for doc in cursor]


async def posts_by_authors(
    stores: Stores, author_ids: list[str], *, before: str | None, limit: int, viewer_id: str | None = None
) -> list[Post]:
    """Newest first; ``before`` is the id of the last post of the previous page.
    For timelines of followed authors: "only me" posts are left out, except
    the viewer's own when ``viewer_id`` is given."""
    if not author_ids:
        return []
    page: dict = {"_id": {"$lt": before}} if before else {}
    others = [a for a in author_ids if a != viewer_id]
    shared: dict = {"author_id": {"$in": others}, "visibility": {"$in": ["public", "followers"]}, **page}
    query: dict = {"$or": [{"author_id": viewer_id, **page}, shared]} if viewer_id in author_ids else shared
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_to_post(doc) async for doc in cursor]


async def posts_of_author(
    stores: Stores, author_id: str, *, visibilities: tuple[str, ...], before: str | None, limit: int
) -> list[Post]:
    """One author's posts of the given visibilities, newest first (a profile grid)."""
    if not visibilities:
        return []
    query: dict = {"author_id": author_id, "visibility": {"$in": list(visibilities)}}
    if before:
        query["_id"] = {"$lt": before}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_to_post(doc) async for doc in cursor]


async def update_post(
    stores: Stores,
    post_id: str,
    *,
    author_id: str,
    caption: str | msgspec.UnsetType = UNSET,
    visibility: Visibility | msgspec.UnsetType = UNSET,
) -> Post | None:
    """Change a post's caption or visibility (its author only; None otherwise).
    The embedding stays the one computed at publish."""
    changes: dict = {}
    if caption is not UNSET:
        changes["caption"] = caption
    if visibility is not UNSET:
        changes["visibility"] = visibility
    if not changes:
        found = await get_post(stores, post_id)
        return found if found is not None and found.author_id == author_id else None
    changes["edited_at"] = utcnow()
    doc = await _collection(stores).find_one_and_update(
        {"_id": post_id, "author_id": author_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )
    if doc is None:
        return None
    post = _to_post(doc)
    from feed.social import post_changes

    await post_changes.announce(stores, "updated", post)
    return post


async def delete_post(stores: Stores, post_id: str, *, author_id: str | None = None) -> Post | None:
    """Delete a post (only its author's when ``author_id`` is given) with its
    likes, comments, shares and notifications; the source of a remix counts
    one remix fewer. Returns the deleted post, None when nothing was deleted."""
    from feed.social import comments, likes, notifications, shares

    query: dict = {"_id": post_id}
    if author_id is not None:
        query["author_id"] = author_id
    doc = await _collection(stores).find_one_and_delete(query)
    if doc is None:
        return None
    post = _to_post(doc)
    from feed.social import post_changes

    await post_changes.announce(stores, "deleted", post)
    await counters.forget(stores, post.id)
    await likes.delete_for_post(stores, post.id)
    await comments.delete_for_post(stores, post.id)
    await shares.delete_for_post(stores, post.id)
    await notifications.delete_for_post(stores, post.id)
    if post.remix_of:
        await counters.bump(stores, post.remix_of, remixes=-1)
    return post


async def delete_for_video(stores: Stores, video_id: str) -> int:
    """Remove the post of ``video_id`` (its video is being deleted) with
    everything hanging off it; returns how many went (0 or 1)."""
    post = await post_for_video(stores, video_id)
    if post is None:
        return 0
    return 1 if await delete_post(stores, post.id) is not None else 0
