"""Cameos: the ``cameos`` collection and each cameo's media.

A document is ``{_id: cameo_…, owner_id, kind, name, mention_lc, permission,
paused, preferences, restrictions, face, embedding, frames, voice,
created_at, updated_at}``:

- ``kind``: ``human`` (the owner's own likeness, verified live; prompts name
  it ``@handle``) or ``character`` (prompts name it ``@handle.<mention>``;
  a pet, a toy, a drawn figure, or a live-verified person in a role);
- ``mention_lc``: ``""`` for the human cameo, the character's mention name
  otherwise. The unique index on (owner_id, mention_lc) gives one human
  cameo per account and one character per mention name;
- ``face``: a human face was verified in it; then ``embedding`` holds its
  128-d face descriptor (the identity ``cameos.identity`` compares);
- ``frames``: how many reference frames are stored, ``voice``: whether a
  voice sample is.

The media live in the media store under the cameo's id: ``frame1`` …
``frame5`` (JPEG) and ``voice`` (WAV). Deleting a cameo erases the document
(embedding included) and every media object; ``erase`` leaves nothing.

The media store is passed in (``core.media_store.MediaStore``: the server owns
the process's one store)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

import msgspec
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from cameos.errors import cameo_exists
from core.clock import as_utc, utcnow
from core.ids import new_id
from core.stores import Stores

if TYPE_CHECKING:
    from core.media_store import MediaStore

Kind = Literal["human", "character"]
MAX_FRAMES = 5
NAME_MAX = 50
MAX_CHARACTERS = 20  # characters per account (one human cameo besides)
DEFAULT_PERMISSION = "only_me"


class Cameo(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    kind: Kind
    name: str
    mention: str | None  # the character's mention name; None for the human cameo
    permission: str = DEFAULT_PERMISSION
    paused: bool = False
    preferences: list[str] = []
    restrictions: list[str] = []
    face: bool = False
    frames: int = 0
    voice: bool = False
    created_at: datetime
    updated_at: datetime


def _collection(stores: Stores):
    return stores.db["cameos"]


def now_ms():
    """The time as stored: BSON dates keep milliseconds."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_PUBLIC = {"embedding": 0}


def _cameo(doc: dict) -> Cameo:
    return Cameo(
        id=doc["_id"],
        owner_id=doc["owner_id"],
        kind=doc["kind"],
        name=doc["name"],
        mention=doc.get("mention_lc") or None,
        permission=doc.get("permission", DEFAULT_PERMISSION),
        paused=bool(doc.get("paused")),
        preferences=list(doc.get("preferences") or []),
        restrictions=list(doc.get("restrictions") or []),
        face=bool(doc.get("face")),
        frames=int(doc.get("frames") or 0),
        voice=bool(doc.get("voice")),
        created_at=as_utc(doc["created_at"]),
        updated_at=as_utc(doc.get("updated_at") or doc["created_at"]),
    )


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index([("owner_id", ASCENDING), ("mention_lc", ASCENDING)], unique=True, name="owner_mention_unique")
    await col.create_index([("face", ASCENDING)], name="face")


def frame_variant(i: int) -> str:
    """The media variant of reference frame ``i`` (1-based)."""
    return f"frame{i}"


async def create_cameo(
    stores: Stores,
    media: MediaStore,
    *,
    owner_id: str,
    kind: Kind,
    name: str,
    mention: str | None,
    embedding: list[float] | None,
    frames: list[bytes],
    voice: bytes | None,
    permission: str = DEFAULT_PERMISSION,
) -> Cameo:
    """Insert a cameo and store its media; nothing is left behind if either fails.
    Raises ``cameo_exists`` (409) for a second human cameo or a taken mention name."""
    if kind == "human" and mention is not None:
        raise ValueError("a human cameo has no mention name of its own")
    if kind == "character" and not mention:
        raise ValueError("a character needs a mention name")
    frames = frames[:MAX_FRAMES]
    now = now_ms()
    doc = {
        "_id": new_id("cameo"),
        "owner_id": owner_id,
        "kind": kind,
        "name": name,
        "mention_lc": mention or "",
        "permission": permission,
        "paused": False,
        "preferences": [],
        "restrictions": [],
        "face": embedding is not None,
        "embedding": embedding,
        "frames": len(frames),
        "voice": voice is not None,
        "created_at": now,
        "updated_at": now,
    }
    try:
        await _collection(stores).insert_one(doc)
    except DuplicateKeyError:
        if kind == "human":
            raise cameo_exists("this account has a cameo of its own face already; delete it to record a new one") from None
        raise cameo_exists(f"you have a character named {mention!r} already; choose another name", details={"mention": mention}) from None
    try:
        for i, jpeg in enumerate(frames, start=1):
            await media.put_bytes(doc["_id"], frame_variant(i), jpeg)
        if voice is not None:
            await media.put_bytes(doc["_id"], "voice", voice)
    except BaseException:
        await erase(stores, media, doc["_id"])
        raise
    return _cameo(doc)


async def get_cameo(stores: Stores, cameo_id: str) -> Cameo | None:
    if not isinstance(cameo_id, str):
        return None
    doc = await _collection(stores).find_one({"_id": cameo_id}, _PUBLIC)
    return _cameo(doc) if doc else None


async def get_cameos(stores: Stores, cameo_ids: list[str]) -> dict[str, Cameo]:
    if not cameo_ids:
        return {}
    cursor = _collection(stores).find({"_id": {"$in": list(set(cameo_ids))}}, _PUBLIC)
    return {doc["_id"]: _cameo(doc) async for doc in cursor}


async def find_by_mention(stores: Stores, owner_id: str, mention: str | None) -> Cameo | None:
    """The owner's human cameo (``mention`` None) or their character ``mention``."""
    doc = await _collection(stores).find_one({"owner_id": owner_id, "mention_lc": (mention or "").lower()}, _PUBLIC)
    return _cameo(doc) if doc else None


async def list_owned(stores: Stores, owner_id: str) -> list[Cameo]:
    """The owner's cameos, oldest first (the human cameo is usually the first)."""
    cursor = _collection(stores).find({"owner_id": owner_id}, _PUBLIC).sort("_id", ASCENDING)
    return [_cameo(doc) async for doc in cursor]


async def count_characters(stores: Stores, owner_id: str) -> int:
    return await _collection(stores).count_documents({"owner_id": owner_id, "kind": "character"})


async def update_cameo(stores: Stores, cameo_id: str, owner_id: str, changes: dict) -> Cameo | None:
    """Set fields of the owner's cameo: any of name, permission, paused,
    preferences, restrictions (the caller validated them). None when the
    cameo is not the owner's (or gone)."""
    allowed = {"name", "permission", "paused", "preferences", "restrictions"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    doc = await _collection(stores).find_one_and_update(
        {"_id": cameo_id, "owner_id": owner_id},
        {"$set": {**changes, "updated_at": now_ms()}},
        projection=_PUBLIC,
        return_document=ReturnDocument.AFTER,
    )
    return _cameo(doc) if doc else None


async def face_embeddings(stores: Stores, *, exclude_owner: str) -> list[tuple[str, str, list[float]]]:
    """(cameo id, owner id, embedding) of every cameo with a verified face,
    except ``exclude_owner``'s (for ``cameos.identity``)."""
    cursor = _collection(stores).find({"face": True}, {"owner_id": 1, "embedding": 1})
    return [
        (doc["_id"], doc["owner_id"], doc["embedding"])
        async for doc in cursor
        if doc["owner_id"] != exclude_owner and doc.get("embedding")
    ]


async def reference_frame(media: MediaStore, cameo: Cameo, i: int = 1) -> bytes | None:
    """Reference frame ``i`` (JPEG) of a cameo; None if it has fewer frames."""
    if not 1 <= i <= cameo.frames:
        return None
    return await media.get_bytes(cameo.id, frame_variant(i))


async def voice_sample(media: MediaStore, cameo: Cameo) -> bytes | None:
    return await media.get_bytes(cameo.id, "voice") if cameo.voice else None


async def erase(stores: Stores, media: MediaStore, cameo_id: str) -> bool:
    """Delete the document (embedding included) and every media object of the
    cameo. Media go first: a failure there leaves the document, so the owner
    can try again, rather than orphaned frames nobody can find."""
    await media.delete(cameo_id)
    result = await _collection(stores).delete_one({"_id": cameo_id})
    return result.deleted_count == 1
