"""Changes to the follow/block graph: follow, unfollow, block, unblock.

Following twice keeps the first edge; unfollowing a non-follow does nothing;
the users' ``followers``/``following`` counters move only when an edge is
really inserted or deleted. Blocking removes the follows both ways; a blocked
pair cannot follow each other (the blocker is told to unblock first, the
blocked one sees the same 404 as for an unknown user).

Every call that changed an edge first drops the shared cache of the graph
around both users (``accounts.graph_cache.invalidate``), then tells every api
process (``accounts.graph.CHANGES``). The documents' shapes and every read
are in ``accounts.graph``."""

from __future__ import annotations

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError
from ulid import ULID

from accounts import graph_cache
from accounts.graph import CHANGES, GraphChange, edge_id, ensure_not_blocked, is_blocked_between
from core.clock import utcnow
from core.errors import BadRequest
from core.stores import Stores


async def _changed(stores: Stores, kind: str, a: str, b: str) -> None:
    await graph_cache.invalidate(stores, [a, b])
    await CHANGES.announce(stores, GraphChange(kind=kind, users=[a, b]))


# --- blocks -----------------------------------------------------------------


async def block(stores: Stores, blocker: str, blocked: str) -> bool:
    """Block a user and drop the follows both ways; False when already blocked."""
    if blocker == blocked:
        raise BadRequest("you cannot block yourself", code="self_block")
    try:
        await stores.db.blocks.insert_one(
            {"_id": edge_id(blocker, blocked), "blocker": blocker, "blocked": blocked, "k": str(ULID()), "created_at": utcnow()}
        )
        created = True
    except DuplicateKeyError:
        created = False
    # Also on a repeated block: a follow that raced the first one is dropped here.
    await unfollow(stores, blocker, blocked)
    await unfollow(stores, blocked, blocker)
    if created:
        await _changed(stores, "block", blocker, blocked)
    return created


async def unblock(stores: Stores, blocker: str, blocked: str) -> bool:
    """Lift a block (follows are not restored); False when there was none."""
    result = await stores.db.blocks.delete_one({"_id": edge_id(blocker, blocked)})
    if result.deleted_count != 1:
        return False
    await _changed(stores, "block", blocker, blocked)
    return True


# --- follows ----------------------------------------------------------------


async def _count(stores: Stores, follower: str, followee: str, delta: int) -> None:
    await stores.db.users.bulk_write(
        [
            UpdateOne({"_id": followee}, {"$inc": {"followers": delta}}),
            UpdateOne({"_id": follower}, {"$inc": {"following": delta}}),
        ],
        ordered=False,
    )


async def follow(stores: Stores, follower: str, followee: str) -> bool:
    """Follow a user; False when already following. Raises on self-follows and blocks."""
    if follower == followee:
        raise BadRequest("you cannot follow yourself", code="self_follow")
    await ensure_not_blocked(stores, follower, followee)
    try:
        await stores.db.follows.insert_one(
            {
                "_id": edge_id(follower, followee),
                "follower": follower,
                "followee": followee,
                "k": str(ULID()),
                "created_at": utcnow(),
            }
        )
    except DuplicateKeyError:
        return False
    await _count(stores, follower, followee, +1)
    await _changed(stores, "follow", follower, followee)
    # A block that landed between the check and the insert may have missed
    # this edge; undo it so the block wins.
    if await is_blocked_between(stores, follower, followee):
        await unfollow(stores, follower, followee)
        await ensure_not_blocked(stores, follower, followee)
    return True


async def unfollow(stores: Stores, follower: str, followee: str) -> bool:
    """Stop following; False when there was no follow."""
    result = await stores.db.follows.delete_one({"_id": edge_id(follower, followee)})
    if result.deleted_count != 1:
        return False
    await _count(stores, follower, followee, -1)
    await _changed(stores, "follow", follower, followee)
    return True
