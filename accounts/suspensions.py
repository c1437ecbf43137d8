"""Suspended accounts: a flag on the user document (``suspended: true``)
that an administrator sets by acting on a report. Suspending revokes every
token of the user (refused at once on every replica, sockets closed) and
logins are refused while it stands (``server.auth.refuse_suspended``)."""

from __future__ import annotations

from accounts import tokens
from core.clock import utcnow
from core.stores import Stores


async def suspend(stores: Stores, user_id: str) -> int | None:
    """Suspend ``user_id`` and revoke their tokens; returns how many were
    revoked, or None when there is no such user (the account was deleted)."""
    done = await stores.db.users.update_one({"_id": user_id}, {"$set": {"suspended": True, "updated_at": utcnow()}})
    if done.matched_count == 0:
        return None
    return await tokens.revoke_all(stores, user_id)


async def lift(stores: Stores, user_id: str) -> bool:
    """Lift the user's suspension; False when they were not suspended."""
    done = await stores.db.users.update_one(
        {"_id": user_id, "suspended": True}, {"$unset": {"suspended": ""}, "$set": {"updated_at": utcnow()}}
    )
    return done.modified_count > 0


async def is_suspended(stores: Stores, user_id: str) -> bool:
    return await stores.db.users.count_documents({"_id": user_id, "suspended": True}, limit=1) > 0
