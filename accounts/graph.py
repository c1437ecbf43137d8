"""The follow/block graph, as it is read.

A follow is a document ``{_id: "<follower>:<followee>", follower, followee,
k, created_at}``; ``k`` is a fresh ULID, unique and ordered by time, that the
followers/following lists sort and page on (newest first, cursor = the last
``k`` seen, so pages never repeat or skip an edge).

A block is ``{_id: "<blocker>:<blocked>", blocker, blocked, k, created_at}``
(``k`` as a follow's, so a user's own list of blocked accounts pages newest
first; blocks made before it was written get one from their ``created_at``
when the indexes are ensured). A blocked pair cannot see each other's profile
or lists.

The edges are written by ``accounts.graph_writes`` (follow, unfollow, block,
unblock), which announces each change on ``CHANGES`` (a ``core.broadcast``,
defined here so that its listeners need only the read side) after the shared
cache of the graph around each of the two users (``accounts.graph_cache``)
dropped their entries; per-process caches (``feed.live.viewer_cache``) drop
theirs when they hear it."""

from __future__ import annotations

import re

import msgspec
from pymongo import DESCENDING

from accounts import users
from accounts.users import User
from core.broadcast import Broadcast
from core.errors import BadRequest, Forbidden
from core.stores import Stores

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_CURSOR_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # an upper-case ULID


class GraphChange(msgspec.Struct, kw_only=True):
    """An edge between two users appeared or went (``kind``: follow or block)."""

    kind: str
    users: list[str]


CHANGES: Broadcast[GraphChange] = Broadcast("graph", GraphChange)


class UserPage(msgspec.Struct, kw_only=True):
    data: list[User]
    next_cursor: str | None = None


class Relationship(msgspec.Struct, kw_only=True):
    """How the viewer stands towards another user."""

    following: bool = False
    followed_by: bool = False
    blocking: bool = False


def edge_id(a: str, b: str) -> str:
    """The ``_id`` of the edge from ``a`` to ``b`` (a follow or a block)."""
    return f"{a}:{b}"


# --- blocks -----------------------------------------------------------------


async def _blocks(stores: Stores, a: str, b: str) -> tuple[bool, bool]:
    """(a blocks b, b blocks a)."""
    ab, ba = edge_id(a, b), edge_id(b, a)
    found = {doc["_id"] async for doc in stores.db.blocks.find({"_id": {"$in": [ab, ba]}}, {"_id": 1})}
    return ab in found, ba in found


async def is_blocked_between(stores: Stores, a: str, b: str) -> bool:
    """True when either user blocks the other."""
    ab, ba = await _blocks(stores, a, b)
    return ab or ba


async def ensure_not_blocked(stores: Stores, actor: str, target: str) -> None:
    """Raise unless ``actor`` and ``target`` may interact: 404 when the target
    blocks the actor (as if it did not exist), 403 when the actor blocks the target."""
    actor_blocks, target_blocks = await _blocks(stores, actor, target)
    if target_blocks:
        raise users.no_such_user()
    if actor_blocks:
        raise Forbidden("you block this user; unblock them first", code="blocked")


async def blocked_among(stores: Stores, viewer: str, user_ids: list[str]) -> set[str]:
    """The ids in ``user_ids`` that ``viewer`` blocks or is blocked by."""
    if not user_ids:
        return set()
    edges = [e for uid in set(user_ids) for e in (edge_id(viewer, uid), edge_id(uid, viewer))]
    out: set[str] = set()
    async for doc in stores.db.blocks.find({"_id": {"$in": edges}}, {"blocker": 1, "blocked": 1}):
        out.add(doc["blocked"] if doc["blocker"] == viewer else doc["blocker"])
    return out


async def blocks_of(stores: Stores, user_id: str) -> set[str]:
    """Everyone ``user_id`` blocks or is blocked by."""
    mine = stores.db.blocks.find({"blocker": user_id}, {"blocked": 1}).to_list()
    theirs = stores.db.blocks.find({"blocked": user_id}, {"blocker": 1}).to_list()
    out = {doc["blocked"] for doc in await mine}
    out.update(doc["blocker"] for doc in await theirs)
    return out


# --- follows ----------------------------------------------------------------


async def is_following(stores: Stores, follower: str, followee: str) -> bool:
    return await stores.db.follows.find_one({"_id": edge_id(follower, followee)}, {"_id": 1}) is not None


async def relationship(stores: Stores, viewer: str, other: str) -> Relationship:
    out, back = edge_id(viewer, other), edge_id(other, viewer)
    follows = {doc["_id"] async for doc in stores.db.follows.find({"_id": {"$in": [out, back]}}, {"_id": 1})}
    blocking, _ = await _blocks(stores, viewer, other)
    return Relationship(following=out in follows, followed_by=back in follows, blocking=blocking)


async def following_ids(stores: Stores, user_id: str) -> list[str]:
    """The ids of the users ``user_id`` follows, most recent first."""
    cursor = stores.db.follows.find({"follower": user_id}, {"followee": 1}).sort("k", DESCENDING)
    return [doc["followee"] async for doc in cursor]


async def followees_of(stores: Stores, user_ids: list[str], *, limit: int) -> set[str]:
    """Users followed by any of ``user_ids`` (at most ``limit`` edges read):
    one query for all of them, which on nx-27017 costs about what one user's costs."""
    if not user_ids:
        return set()
    docs = await stores.db.follows.find({"follower": {"$in": list(user_ids)}}, {"followee": 1}).limit(limit).to_list()
    return {doc["followee"] for doc in docs}


async def edge_page(
    stores: Stores, collection: str, query: dict, other: str, *, cursor: str | None, limit: int, hide_for: str | None
) -> UserPage:
    """One page of the users at the ``other`` end of the edges ``query`` finds
    in the collection named ``collection`` (follows, blocks, follow requests), newest edge first,
    paged on ``k``. Users that ``hide_for`` blocks or is blocked by are left
    out; the page can then be shorter than ``limit``, the cursor still moves on."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    query = dict(query)
    if cursor is not None:
        if not _CURSOR_RE.fullmatch(cursor):
            raise BadRequest("invalid cursor", code="invalid_cursor")
        query["k"] = {"$lt": cursor}
    docs = await stores.db[collection].find(query, {other: 1, "k": 1}).sort("k", DESCENDING).limit(limit + 1).to_list()
    next_cursor = docs[limit - 1]["k"] if len(docs) > limit else None
    ids = [doc[other] for doc in docs[:limit]]
    hidden = await blocked_among(stores, hide_for, ids) if hide_for else set()
    found = await users.get_users(stores, [uid for uid in ids if uid not in hidden])
    return UserPage(data=[found[uid] for uid in ids if uid in found], next_cursor=next_cursor)


async def followers_page(
    stores: Stores, user_id: str, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT, viewer: str | None = None
) -> UserPage:
    """Who follows ``user_id``, newest follow first."""
    return await edge_page(stores, "follows", {"followee": user_id}, "follower", cursor=cursor, limit=limit, hide_for=viewer)


async def following_page(
    stores: Stores, user_id: str, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT, viewer: str | None = None
) -> UserPage:
    """Whom ``user_id`` follows, newest follow first."""
    return await edge_page(stores, "follows", {"follower": user_id}, "followee", cursor=cursor, limit=limit, hide_for=viewer)


async def blocked_page(stores: Stores, user_id: str, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> UserPage:
    """Whom ``user_id`` blocks, newest block first (their own list: nobody is hidden from it)."""
    return await edge_page(stores, "blocks", {"blocker": user_id}, "blocked", cursor=cursor, limit=limit, hide_for=None)
