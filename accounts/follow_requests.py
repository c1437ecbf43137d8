"""Follow requests: following a private account asks its owner first.

A request is a document of ``follow_requests`` ``{_id: "<requester>:<target>",
requester, target, k, created_at}`` (``k`` a fresh ULID, as follows have, so
the owner's list pages newest first). ``approve`` turns it into a follow
(``accounts.graph_writes.follow``, so counters, caches and broadcasts move as
for any follow); ``decline`` and ``cancel`` drop it. Only a follow makes
someone a follower: what a followers-only post shows to "followers"
(``policy.visibility``) is, for a private account, the people its owner let in.

The routes (``server.routes.users``) decide when a follow becomes a request
(the target is private and not followed yet) and send the notifications."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from accounts import graph_writes
from accounts.graph import DEFAULT_LIMIT, UserPage, edge_id, edge_page, ensure_not_blocked
from core.clock import utcnow
from core.errors import BadRequest
from core.stores import Stores


def _collection(stores: Stores):
    return stores.db["follow_requests"]


async def ensure_indexes(stores: Stores) -> None:
    await _collection(stores).create_index([("target", ASCENDING), ("k", DESCENDING)], name="target_k")
    await _collection(stores).create_index([("requester", ASCENDING)], name="requester")


async def request(stores: Stores, requester: str, target: str) -> bool:
    """Ask to follow ``target``; False when asked already. Raises on self-follows and blocks."""
    if requester == target:
        raise BadRequest("you cannot follow yourself", code="self_follow")
    await ensure_not_blocked(stores, requester, target)
    try:
        await _collection(stores).insert_one(
            {"_id": edge_id(requester, target), "requester": requester, "target": target, "k": str(ULID()), "created_at": utcnow()}
        )
    except DuplicateKeyError:
        return False
    return True


async def pending(stores: Stores, a: str, b: str) -> tuple[bool, bool]:
    """(a asked to follow b, b asked to follow a)."""
    ab, ba = edge_id(a, b), edge_id(b, a)
    found = {doc["_id"] async for doc in _collection(stores).find({"_id": {"$in": [ab, ba]}}, {"_id": 1})}
    return ab in found, ba in found


async def _take(stores: Stores, requester: str, target: str) -> bool:
    result = await _collection(stores).delete_one({"_id": edge_id(requester, target)})
    return result.deleted_count == 1


async def cancel(stores: Stores, requester: str, target: str) -> bool:
    """The requester takes a request back; False when there was none."""
    return await _take(stores, requester, target)


async def decline(stores: Stores, target: str, requester: str) -> bool:
    """The owner turns a request down; False when there was none."""
    return await _take(stores, requester, target)


async def approve(stores: Stores, target: str, requester: str) -> bool:
    """The owner lets the requester in: the request becomes a follow. False
    when there was no request (or the follow existed already)."""
    if not await _take(stores, requester, target):
        return False
    return await graph_writes.follow(stores, requester, target)


async def approve_all(stores: Stores, target: str) -> list[str]:
    """Every request to ``target`` becomes a follow (the account went public); returns the requesters let in."""
    let_in = []
    while docs := await _collection(stores).find({"target": target}, {"requester": 1}).limit(200).to_list():
        for doc in docs:
            try:
                if await approve(stores, target, doc["requester"]):
                    let_in.append(doc["requester"])
            except Exception:  # a block made since: the request just goes
                await _take(stores, doc["requester"], target)
    return let_in


async def drop_between(stores: Stores, a: str, b: str) -> None:
    """Forget the requests either way between two users (one blocked the other)."""
    await _collection(stores).delete_many({"_id": {"$in": [edge_id(a, b), edge_id(b, a)]}})


async def erase_user(stores: Stores, user_id: str) -> None:
    """Every request from or to ``user_id`` (their account is deleted)."""
    await _collection(stores).delete_many({"$or": [{"requester": user_id}, {"target": user_id}]})


async def requests_page(stores: Stores, target: str, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> UserPage:
    """Who asked to follow ``target``, newest first (users blocked either way left out)."""
    return await edge_page(stores, "follow_requests", {"target": target}, "requester", cursor=cursor, limit=limit, hide_for=target)
