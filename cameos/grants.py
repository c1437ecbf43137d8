"""The grant graph: who asked to use a cameo, and what its owner said.

One document per cameo and user, ``{_id: "<cameo>:<user>", cameo_id,
owner_id, user_id, state, k, requested_at, decided_at, updated_at}``;
``k`` is a fresh ULID at every change, so lists sort newest first and page
on it (cursor: the last ``k`` seen). States and moves:

    (none) --request--> requested --approve--> approved --revoke--> revoked
                        requested --decline--> declined
    declined / revoked --request--> requested      (asking again)
    declined / revoked --approve--> approved       (the owner changes their mind)

An approved grant lets its user use the cameo at the ``approved`` and
``mutuals`` levels (``policy.likeness``); revoking takes effect at the next
check, which every use makes (new jobs, the worker's pickup, publishing).
A user may have at most ``MAX_PENDING`` requests waiting at once."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

import msgspec
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from cameos.store import now_ms
from core.clock import as_utc
from core.errors import BadRequest, Conflict, NotFound, RateLimited
from core.stores import Stores

State = Literal["requested", "approved", "declined", "revoked"]
STATES: tuple[str, ...] = ("requested", "approved", "declined", "revoked")
Action = Literal["approve", "decline", "revoke"]
MAX_PENDING = 100
DEFAULT_LIMIT, MAX_LIMIT = 20, 100

# action -> (states it may start from, state it leads to)
MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "approve": (("requested", "declined", "revoked"), "approved"),
    "decline": (("requested",), "declined"),
    "revoke": (("approved",), "revoked"),
}

_CURSOR = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


class Grant(msgspec.Struct, kw_only=True):
    id: str
    cameo_id: str
    owner_id: str
    user_id: str
    state: State
    k: str
    requested_at: datetime
    decided_at: datetime | None = None
    updated_at: datetime


def _collection(stores: Stores):
    return stores.db["cameo_grants"]


def grant_id(cameo_id: str, user_id: str) -> str:
    return f"{cameo_id}:{user_id}"


def _grant(doc: dict) -> Grant:
    return Grant(
        id=doc["_id"],
        cameo_id=doc["cameo_id"],
        owner_id=doc["owner_id"],
        user_id=doc["user_id"],
        state=doc["state"],
        k=doc["k"],
        requested_at=as_utc(doc["requested_at"]),
        decided_at=as_utc(doc["decided_at"]) if doc.get("decided_at") else None,
        updated_at=as_utc(doc["updated_at"]),
    )


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index([("cameo_id", ASCENDING), ("k", DESCENDING)], name="cameo_k")
    await col.create_index([("owner_id", ASCENDING), ("state", ASCENDING), ("k", DESCENDING)], name="owner_state_k")
    await col.create_index([("user_id", ASCENDING), ("state", ASCENDING), ("k", DESCENDING)], name="user_state_k")


def check_cursor(cursor: str | None) -> None:
    if cursor is not None and not _CURSOR.fullmatch(cursor):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")


async def get_grant(stores: Stores, cameo_id: str, user_id: str) -> Grant | None:
    doc = await _collection(stores).find_one({"_id": grant_id(cameo_id, user_id)})
    return _grant(doc) if doc else None


async def is_approved(stores: Stores, cameo_id: str, user_id: str) -> bool:
    doc = await _collection(stores).find_one({"_id": grant_id(cameo_id, user_id)}, {"state": 1})
    return doc is not None and doc["state"] == "approved"


async def request(stores: Stores, *, cameo_id: str, owner_id: str, user_id: str) -> tuple[Grant, bool]:
    """Ask to use a cameo. Returns the grant and whether this changed it
    (a pending or approved grant is returned as it is)."""
    if user_id == owner_id:
        raise BadRequest("this is your own cameo", code="own_cameo")
    found = await get_grant(stores, cameo_id, user_id)
    if found is not None and found.state in ("requested", "approved"):
        return found, False
    pending = await _collection(stores).count_documents({"user_id": user_id, "state": "requested"}, limit=MAX_PENDING)
    if pending >= MAX_PENDING:
        raise RateLimited(
            f"you have {MAX_PENDING} cameo requests waiting; wait for some answers", code="too_many_requests"
        )
    now = now_ms()
    fields = {"state": "requested", "k": str(ULID()), "requested_at": now, "decided_at": None, "updated_at": now}
    if found is None:
        doc = {"_id": grant_id(cameo_id, user_id), "cameo_id": cameo_id, "owner_id": owner_id, "user_id": user_id, **fields}
        try:
            await _collection(stores).insert_one(doc)
        except DuplicateKeyError:  # a concurrent request of the same user won
            return await _current(stores, cameo_id, user_id), False
        return _grant(doc), True
    doc = await _collection(stores).find_one_and_update(
        # only from where asking again is a move: a concurrent approve is not undone
        {"_id": grant_id(cameo_id, user_id), "state": {"$in": ["declined", "revoked"]}},
        {"$set": fields},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        return await _current(stores, cameo_id, user_id), False
    return _grant(doc), True


async def _current(stores: Stores, cameo_id: str, user_id: str) -> Grant:
    current = await get_grant(stores, cameo_id, user_id)
    if current is None:  # deleted with its cameo meanwhile
        raise NotFound("no such cameo", code="cameo_not_found")
    return current


async def decide(stores: Stores, *, cameo_id: str, user_id: str, action: Action) -> Grant:
    """The owner approves, declines or revokes; 404 without a request, 409 when
    the grant is not in a state the action moves from."""
    if action not in MOVES:
        raise ValueError(f"unknown action {action!r}")
    sources, target = MOVES[action]
    now = now_ms()
    doc = await _collection(stores).find_one_and_update(
        {"_id": grant_id(cameo_id, user_id), "state": {"$in": list(sources)}},
        {"$set": {"state": target, "k": str(ULID()), "decided_at": now, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is not None:
        return _grant(doc)
    current = await get_grant(stores, cameo_id, user_id)
    if current is None:
        raise NotFound("this user has not asked to use the cameo", code="grant_not_found")
    raise Conflict(
        f"cannot {action} a grant that is {current.state}",
        code="invalid_grant_state",
        details={"state": current.state, "action": action},
    )


async def _page(stores: Stores, query: dict, before: str | None, limit: int) -> tuple[list[Grant], str | None]:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    check_cursor(before)
    if before is not None:
        query = {**query, "k": {"$lt": before}}
    docs = await _collection(stores).find(query).sort("k", DESCENDING).limit(limit + 1).to_list()
    page = [_grant(doc) for doc in docs[:limit]]
    return page, (page[-1].k if len(docs) > limit else None)


async def list_for_cameo(
    stores: Stores, cameo_id: str, *, state: str | None = None, before: str | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[list[Grant], str | None]:
    """A cameo's grants (all states, or one), most recently changed first, and the next cursor."""
    query: dict = {"cameo_id": cameo_id}
    if state is not None:
        query["state"] = state
    return await _page(stores, query, before, limit)


async def incoming(
    stores: Stores, owner_id: str, *, state: str = "requested", before: str | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[list[Grant], str | None]:
    """Requests and grants of ``owner_id``'s cameos in ``state``, across them
    all (by default those waiting for an answer)."""
    return await _page(stores, {"owner_id": owner_id, "state": state}, before, limit)


async def outgoing(
    stores: Stores, user_id: str, *, state: str | None = None, before: str | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[list[Grant], str | None]:
    """``user_id``'s own requests and grants (all states, or one)."""
    query: dict = {"user_id": user_id}
    if state is not None:
        query["state"] = state
    return await _page(stores, query, before, limit)


async def delete_for_cameo(stores: Stores, cameo_id: str) -> int:
    result = await _collection(stores).delete_many({"cameo_id": cameo_id})
    return result.deleted_count
