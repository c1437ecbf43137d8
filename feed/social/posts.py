"""Posts: a published video with its caption. The ``posts`` collection.

A post document holds the post (author, video, caption, visibility, the
prompt it was made from, its text embedding, the post it remixes) and its
counters (``feed.social.counters``). One post per video: an unpublished
completed video is a draft its owner alone sees.

A document keeps its embedding as little-endian float32 bytes (a BSON
binary, ``embedding_field``), not as a list of numbers: 1.5 KB against
about 7.5 KB of text per post on nx-27017, which stores a document as JSON
and parses it whole on every read and update, so each command on a post
costs several times less (``bench/post_docs.py``). Documents written with
a list are still read (``embedding_of``).

This module reads and writes the documents; publishing, edits and deletes
with what follows them (notifications, counters, the change broadcast, the
likes, comments and shares of a deleted post) are ``feed.publishing``."""

from __future__ import annotations

from datetime import datetime

import msgspec
import numpy as np
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from core.errors import Conflict
from core.mongo_compat import ensure_newest_by_index, is_nx27017
from core.stores import Stores
from feed.social import counters
from policy.visibility import Visibility


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
    duration_ms: int | None = None  # the clip's length (caps a view's watch_ms); None on posts made before it was kept


_FIELDS = frozenset(Post.__struct_fields__) - {"id"}
_STORED = np.dtype("<f4")


def embedding_field(embedding) -> bytes:
    """An embedding (a list or array of floats) as a document stores it."""
    return np.ascontiguousarray(embedding, dtype=_STORED).tobytes()


def embedding_of(doc: dict) -> np.ndarray | None:
    """A document's embedding as float32, stored as bytes or (older documents) a list; None when it has none."""
    stored = doc.get("embedding")
    if stored is None or len(stored) == 0:
        return None
    if isinstance(stored, bytes | bytearray | memoryview):
        return np.frombuffer(stored, dtype=_STORED).astype(np.float32)
    return np.asarray(stored, dtype=np.float32)


def post_doc(post: Post) -> dict:
    """A new post's document: its fields, the embedding as bytes and its counters at zero."""
    doc = msgspec.to_builtins(post, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    if post.embedding is not None:
        doc["embedding"] = embedding_field(post.embedding)
    doc.update(counters.initial_fields())
    return doc


def _collection(stores: Stores):
    return stores.db["posts"]


def _to_post(doc: dict) -> Post:
    fields = {k: v for k, v in doc.items() if k in _FIELDS}
    fields["id"] = doc["_id"]
    if "embedding" in fields:
        vector = embedding_of(doc)
        fields["embedding"] = None if vector is None else vector.tolist()
    return msgspec.convert(fields, Post, strict=False)


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index([("video_id", ASCENDING)], unique=True, name="one_post_per_video")
    await ensure_newest_by_index(stores, "posts", "author_id", "author_newest")
    await ensure_newest_by_index(stores, "posts", "visibility", "visibility_newest")
    await ensure_newest_by_index(stores, "posts", "remix_of", "remix_of_newest")


async def video_has_post(stores: Stores, video_id: str) -> bool:
    return bool(await _collection(stores).count_documents({"video_id": video_id}, limit=1))


async def insert_post(stores: Stores, post: Post) -> None:
    """Store a new post with its counters at zero; ``already_published`` when
    its video has a post (the unique index decides races)."""
    try:
        await _collection(stores).insert_one(post_doc(post))
    except DuplicateKeyError:
        raise already_published(post.video_id) from None


def already_published(video_id: str) -> Conflict:
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
    # nx-27017 parses each document whole either way, and a projection costs it
    # more than the embedding's 1.5 KB on the wire (docs/MONGO-COMPAT.md): there
    # the field is left out here, not by the server
    projection = None if embeddings or await is_nx27017(stores) else {"embedding": 0}
    cursor = _collection(stores).find({"_id": {"$in": ids}}, projection)
    if not embeddings:
        return {doc["_id"]: _to_post({k: v for k, v in doc.items() if k != "embedding"}) async for doc in cursor}
    return {doc["_id"]: _to_post(doc) async for doc in cursor}


async def get_posts_vectors_and_counts(
    stores: Stores, ids: list[str]
) -> tuple[dict[str, Post], dict[str, np.ndarray], dict[str, dict[str, int]]]:
    """The posts among ``ids`` that exist (without their embeddings), the
    embeddings of those that have one (float32 arrays, never made into
    lists of numbers) and their counters, from one read of the posts: the
    counters are Redis's where it holds them, else the documents'
    (``counters.counts_of_docs``)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}, {}, {}
    docs = [doc async for doc in _collection(stores).find({"_id": {"$in": ids}})]
    vectors = {doc["_id"]: vector for doc in docs if (vector := embedding_of(doc)) is not None}
    found = {doc["_id"]: _to_post({k: v for k, v in doc.items() if k != "embedding"}) for doc in docs}
    return found, vectors, await counters.counts_of_docs(stores, docs)


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
    stores: Stores, author_ids: list[str], *, before: str | None, limit: int, viewer_id: str | None = None, after: str | None = None
) -> list[Post]:
    """Newest first; ``before`` is the id of the last post of the previous page.
    With ``after`` instead: the posts newer than that id, oldest first.
    For timelines of followed authors: "only me" posts are left out, except
    the viewer's own when ``viewer_id`` is given."""
    if not author_ids:
        return []
    page: dict = {"_id": {"$lt": before}} if before else {"_id": {"$gt": after}} if after else {}
    others = [a for a in author_ids if a != viewer_id]
    shared: dict = {"author_id": {"$in": others}, "visibility": {"$in": ["public", "followers"]}, **page}
    query: dict = {"$or": [{"author_id": viewer_id, **page}, shared]} if viewer_id in author_ids else shared
    order = ASCENDING if after and not before else DESCENDING
    cursor = _collection(stores).find(query).sort("_id", order).limit(limit)
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


async def set_fields(stores: Stores, post_id: str, author_id: str, changes: dict) -> Post | None:
    """Set ``changes`` on the author's post; the post as it is now, None when
    ``author_id`` has no post ``post_id``."""
    doc = await _collection(stores).find_one_and_update(
        {"_id": post_id, "author_id": author_id}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )
    return _to_post(doc) if doc is not None else None


async def remove_post(stores: Stores, post_id: str, *, author_id: str | None = None) -> Post | None:
    """Remove the post document (only the author's when ``author_id`` is
    given) and return it; None when nothing was removed. What hangs off the
    post is removed by ``feed.publishing.delete_post``."""
    query: dict = {"_id": post_id}
    if author_id is not None:
        query["author_id"] = author_id
    doc = await _collection(stores).find_one_and_delete(query)
    return _to_post(doc) if doc is not None else None
