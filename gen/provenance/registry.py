"""Which video an invisible key names: the ``provenance_keys`` collection.

One document per marked video, ``{_id: key, video_id, created_at}``; keys
are random 48-bit integers (``key_code.new_key``), unique as the ``_id``,
and a video has one key (a unique index on ``video_id``). ``assign_key`` is
get-or-create, so a retried job marks its frames with the same key it had
before, and two workers racing on one job end with one key. The documents
outlive their videos: a copy of a deleted video is still traced to it.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from core.stores import Stores
from gen.provenance.key_code import new_key

ATTEMPTS = 8


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    key: int
    video_id: str
    created_at: datetime


def _collection(stores: Stores):
    return stores.db["provenance_keys"]


def _record(doc: dict | None) -> KeyRecord | None:
    if doc is None:
        return None
    return KeyRecord(key=int(doc["_id"]), video_id=doc["video_id"], created_at=doc["created_at"])


async def ensure_indexes(stores: Stores) -> None:
    await _collection(stores).create_index([("video_id", ASCENDING)], name="video_id_unique", unique=True)


async def key_of(stores: Stores, video_id: str) -> int | None:
    record = _record(await _collection(stores).find_one({"video_id": video_id}))
    return None if record is None else record.key


async def assign_key(stores: Stores, video_id: str) -> int:
    """The key of ``video_id``, made and recorded the first time."""
    for _ in range(ATTEMPTS):
        known = await key_of(stores, video_id)
        if known is not None:
            return known
        key = new_key()
        try:
            await _collection(stores).insert_one({"_id": key, "video_id": video_id, "created_at": utcnow()})
            return key
        except DuplicateKeyError:
            continue  # the key was taken (1 in 2^48 per video) or another worker recorded one first
    raise RuntimeError(f"could not record a provenance key for {video_id}")


async def lookup(stores: Stores, key: int) -> KeyRecord | None:
    """The record of ``key``, or None when no video was marked with it."""
    return _record(await _collection(stores).find_one({"_id": int(key)}))


async def video_for_key(stores: Stores, key: int) -> str | None:
    record = await lookup(stores, key)
    return None if record is None else record.video_id
