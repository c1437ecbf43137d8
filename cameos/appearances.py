"""Appearances: which video used which cameo, made by whom, and on what basis.

One document per cameo and video, ``{_id: "<cameo>:<video>", cameo_id,
owner_id, video_id, creator_id, basis, grant_id, k, created_at}``; ``basis``
is what let the use through (``policy.likeness``: self, everyone, mutuals,
approved) and ``grant_id`` the grant when it was an approval. The video's
state (queued, draft, published …) is not copied here: the server reads it
from the video and its post when it lists appearances.

Appearances outlive their cameo: deleting a cameo erases the likeness, and
its owner can still list the videos it appears in (by the ``owner_id`` kept
here) and remove them; an appearance goes when its video does."""

from __future__ import annotations

from datetime import datetime

import msgspec
from pymongo import ASCENDING, DESCENDING
from ulid import ULID

from cameos.grants import check_cursor, grant_id
from cameos.store import now_ms
from core.clock import as_utc
from core.errors import BadRequest
from core.stores import Stores

DEFAULT_LIMIT, MAX_LIMIT = 20, 100


class Appearance(msgspec.Struct, kw_only=True):
    cameo_id: str
    owner_id: str
    video_id: str
    creator_id: str
    basis: str
    grant_id: str | None = None
    k: str
    created_at: datetime


def _collection(stores: Stores):
    return stores.db["cameo_appearances"]


def _appearance(doc: dict) -> Appearance:
    fields = {name: doc.get(name) for name in Appearance.__struct_fields__}
    fields["created_at"] = as_utc(doc["created_at"])
    return msgspec.convert(fields, Appearance, strict=False)


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index([("cameo_id", ASCENDING), ("k", DESCENDING)], name="cameo_k")
    await col.create_index([("owner_id", ASCENDING), ("k", DESCENDING)], name="owner_k")
    await col.create_index([("video_id", ASCENDING)], name="video")


async def record(
    stores: Stores, *, cameo_id: str, owner_id: str, video_id: str, creator_id: str, basis: str
) -> Appearance:
    """Note that ``video_id`` uses the cameo (idempotent per cameo and video)."""
    doc = {
        "cameo_id": cameo_id,
        "owner_id": owner_id,
        "video_id": video_id,
        "creator_id": creator_id,
        "basis": basis,
        "grant_id": grant_id(cameo_id, creator_id) if basis == "approved" else None,
        "k": str(ULID()),
        "created_at": now_ms(),
    }
    await _collection(stores).update_one({"_id": f"{cameo_id}:{video_id}"}, {"$setOnInsert": doc}, upsert=True)
    found = await get(stores, cameo_id, video_id)
    assert found is not None
    return found


async def get(stores: Stores, cameo_id: str, video_id: str) -> Appearance | None:
    doc = await _collection(stores).find_one({"_id": f"{cameo_id}:{video_id}"})
    return _appearance(doc) if doc else None


async def list_for_cameo(
    stores: Stores, cameo_id: str, *, before: str | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[list[Appearance], str | None]:
    """The cameo's appearances, newest first, and the next cursor."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    check_cursor(before)
    query: dict = {"cameo_id": cameo_id}
    if before is not None:
        query["k"] = {"$lt": before}
    docs = await _collection(stores).find(query).sort("k", DESCENDING).limit(limit + 1).to_list()
    page = [_appearance(doc) for doc in docs[:limit]]
    return page, (page[-1].k if len(docs) > limit else None)


async def owner_of(stores: Stores, cameo_id: str) -> str | None:
    """Whose cameo this was, from its appearances (for a cameo deleted since)."""
    doc = await _collection(stores).find_one({"cameo_id": cameo_id}, {"owner_id": 1})
    return doc["owner_id"] if doc else None


async def of_video(stores: Stores, video_id: str) -> list[Appearance]:
    """The cameos a video uses (for remixes and extensions of it, and the worker's re-check)."""
    return [_appearance(doc) async for doc in _collection(stores).find({"video_id": video_id})]


async def of_owner(stores: Stores, owner_id: str, *, before: str | None = None, limit: int = DEFAULT_LIMIT) -> list[Appearance]:
    """Appearances of any of ``owner_id``'s cameos, newest first (a profile's cameos feed)."""
    check_cursor(before)
    query: dict = {"owner_id": owner_id}
    if before is not None:
        query["k"] = {"$lt": before}
    return [_appearance(doc) for doc in await _collection(stores).find(query).sort("k", DESCENDING).limit(limit).to_list()]


async def remove(stores: Stores, cameo_id: str, video_id: str) -> bool:
    result = await _collection(stores).delete_one({"_id": f"{cameo_id}:{video_id}"})
    return result.deleted_count == 1


async def remove_video(stores: Stores, video_id: str) -> int:
    """Forget every appearance in a video (it was deleted)."""
    result = await _collection(stores).delete_many({"video_id": video_id})
    return result.deleted_count
