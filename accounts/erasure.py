"""Erasing an account from the accounts collections (the account is being
deleted; ``server.account_deletion`` runs every package's part).

The follows and blocks go one by one through ``graph_writes``, so the other
users' counters drop and every process's graph caches hear of it; then the
tokens (whose sockets close) and the user document itself."""

from __future__ import annotations

from accounts import follow_requests, graph_cache, graph_writes, tokens
from core.stores import Stores

PAGE = 200


async def erase_graph(stores: Stores, user_id: str) -> None:
    """Every follow, follow request and block from or to ``user_id``."""
    db = stores.db
    while edges := await db.follows.find({"$or": [{"follower": user_id}, {"followee": user_id}]}, {"follower": 1, "followee": 1}).limit(PAGE).to_list():
        for edge in edges:
            if not await graph_writes.unfollow(stores, edge["follower"], edge["followee"]):
                await db.follows.delete_one({"_id": edge["_id"]})  # (a half-written edge)
    while edges := await db.blocks.find({"$or": [{"blocker": user_id}, {"blocked": user_id}]}, {"blocker": 1, "blocked": 1}).limit(PAGE).to_list():
        for edge in edges:
            if not await graph_writes.unblock(stores, edge["blocker"], edge["blocked"]):
                await db.blocks.delete_one({"_id": edge["_id"]})
    await follow_requests.erase_user(stores, user_id)
    await graph_cache.invalidate(stores, [user_id])


async def delete_user(stores: Stores, user_id: str) -> bool:
    """The user document and every token; False when there was no such user."""
    await tokens.revoke_all(stores, user_id)
    result = await stores.db.users.delete_one({"_id": user_id})
    return result.deleted_count == 1
