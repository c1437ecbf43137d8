"""Administrator rights: a flag on the user document (``admin: true``),
set and cleared only by an operator with ``fabula admin grant|revoke
HANDLE`` (``cli.admin``), never by anything a user can send. Read on every
admin request, so a revocation takes effect at once."""

from __future__ import annotations

from accounts import users
from accounts.users import User
from core.clock import utcnow
from core.stores import Stores


async def set_admin(stores: Stores, handle: str, admin: bool) -> User | None:
    """Grant (``admin=True``) or revoke administrator rights; None for an unknown handle."""
    user = await users.get_by_handle(stores, handle)
    if user is None:
        return None
    change = {"$set": {"admin": True, "updated_at": utcnow()}} if admin else {"$unset": {"admin": ""}, "$set": {"updated_at": utcnow()}}
    await stores.db.users.update_one({"_id": user.id}, change)
    return user


async def is_admin(stores: Stores, user_id: str) -> bool:
    return await stores.db.users.count_documents({"_id": user_id, "admin": True}, limit=1) > 0


async def list_admins(stores: Stores) -> list[User]:
    """Every administrator, by handle."""
    ids = [doc["_id"] async for doc in stores.db.users.find({"admin": True}, {"_id": 1})]
    found = await users.get_users(stores, ids)
    return sorted(found.values(), key=lambda u: u.handle.lower())
