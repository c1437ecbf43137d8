"""A user's data as a zip, streamed as it is written (``GET /v1/me/export``).

One JSON file per kind of document, each a list of the user's own documents
as stored, less what is not theirs to read back or not data about them
(password hashes, face and text embeddings): ``account.json`` (the profile with the birth date,
an object), ``posts``, ``videos`` (the generation jobs), ``likes``,
``comments``, ``shares``, ``following``, ``followers``, ``blocks``,
``notifications`` (received), ``cameos`` (owned), ``cameo_grants`` (asked
of their cameos or by them), ``cameo_appearances`` (of their cameos, or in
their videos); then ``videos/<id>.mp4`` and ``videos/<id>.jpg`` (the
thumbnail) for every finished video. JSON is deflated, videos are stored.

The zip is written to a small in-memory sink that is emptied after every
entry and every media chunk, so memory stays at about one chunk whatever
the size of the export. Which media files it holds is settled before the
answer starts (``stored_media``): once the zip is streaming, its status is
sent, so a media store that is down must be found while it can still be a
503."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime

import msgspec

from accounts import users
from accounts.users import User
from core.media_store import MediaStore
from core.stores import Stores

_HIDDEN = {"password_hash": 0, "embedding": 0, "prompt_embedding": 0}
_MEDIA = (("video", "mp4"), ("thumbnail", "jpg"))
_SIZED_AT_ONCE = 16  # media-store size calls in flight at once (each a HEAD on S3)


def _queries(user_id: str) -> dict[str, tuple[str, dict]]:
    """file name -> (collection, query) of the user's own documents."""
    return {
        "posts": ("posts", {"author_id": user_id}),
        "videos": ("videos", {"owner_id": user_id}),
        "likes": ("likes", {"user_id": user_id}),
        "comments": ("comments", {"author_id": user_id}),
        "shares": ("shares", {"user_id": user_id}),
        "following": ("follows", {"follower": user_id}),
        "followers": ("follows", {"followee": user_id}),
        "blocks": ("blocks", {"blocker": user_id}),
        "notifications": ("notifications", {"recipient_id": user_id}),
        "cameos": ("cameos", {"owner_id": user_id}),
        "cameo_grants": ("cameo_grants", {"$or": [{"owner_id": user_id}, {"user_id": user_id}]}),
        "cameo_appearances": ("cameo_appearances", {"$or": [{"owner_id": user_id}, {"creator_id": user_id}]}),
    }


def _enc(value: object) -> object:
    """What JSON gets for the driver's own types. It never raises: the zip is
    streamed, so a value it could not write would cut the export short."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return None  # binary fields (vectors) are not data about the user
    if isinstance(value, int):  # bson.Int64: any integer of 2**31 or more (a seed)
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)  # ObjectId, Decimal128 and the like, as their text


_encode = msgspec.json.Encoder(enc_hook=_enc).encode


class _Sink(io.RawIOBase):
    """Where the zip is written: kept until ``take`` hands it on. Not seekable,
    so zipfile writes each entry's sizes after its data."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


async def stored_media(stores: Stores, media: MediaStore, user_id: str) -> list[tuple[str, str, str]]:
    """(video id, variant, zip suffix) of every stored file of the user's
    finished videos, in the order the zip writes them. A media store that
    fails raises here, before anything is sent."""
    ids = [doc["_id"] async for doc in stores.db["videos"].find({"owner_id": user_id, "status": "completed"}, {"_id": 1}).sort("_id", 1)]
    wanted = [(video_id, variant, suffix) for video_id in ids for variant, suffix in _MEDIA]
    gate = asyncio.Semaphore(_SIZED_AT_ONCE)

    async def sized(video_id: str, variant: str) -> int | None:
        async with gate:
            return await media.size(video_id, variant)

    sizes = await asyncio.gather(*(sized(video_id, variant) for video_id, variant, _ in wanted))
    return [file for file, size in zip(wanted, sizes) if size is not None]


async def export_zip(stores: Stores, media: MediaStore, user: User, files: list[tuple[str, str, str]]) -> AsyncIterator[bytes]:
    """The bytes of ``user``'s export, in pieces; ``files`` are the media it
    holds (``stored_media``)."""
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)
    fresh = await users.get_me(stores, user.id) or user  # the owner's view: the birth date too
    archive.writestr("account.json", _encode(msgspec.to_builtins(fresh)))
    yield sink.take()
    for name, (collection, query) in _queries(user.id).items():
        docs = await stores.db[collection].find(query, _HIDDEN).to_list()
        archive.writestr(f"{name}.json", _encode(docs))
        yield sink.take()
    for video_id, variant, suffix in files:
        with archive.open(zipfile.ZipInfo(f"videos/{video_id}.{suffix}"), "w") as entry:
            async for chunk in media.read(video_id, variant):
                entry.write(chunk)
                yield sink.take()
        yield sink.take()
    archive.close()
    yield sink.take()
