"""Bearer tokens: 32 random bytes handed to the client once; the store keeps
only their SHA-256, so a leaked database holds no usable token. Revoking a
token deletes its document, which takes effect on the next request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import msgspec

from core.clock import unix, utcnow
from core.ids import new_id
from core.stores import Stores

PREFIX = "fab_"
# A real token is PREFIX + 43 url-safe characters; anything much longer is
# refused before it reaches the store.
MAX_LENGTH = 128


class Issued(msgspec.Struct, kw_only=True):
    token: str
    id: str
    user_id: str
    expires_at: int


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def issue(stores: Stores, user_id: str) -> Issued:
    token = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires: datetime = now + timedelta(seconds=stores.settings.token_ttl_s)
    token_id = new_id("tok")
    await stores.db.tokens.insert_one(
        {"_id": digest(token), "id": token_id, "user_id": user_id, "created_at": now, "expires_at": expires}
    )
    return Issued(token=token, id=token_id, user_id=user_id, expires_at=unix(expires) or 0)


async def resolve(stores: Stores, token: str) -> str | None:
    """The id of the user ``token`` belongs to, or None (unknown, revoked or expired)."""
    if not token or len(token) > MAX_LENGTH:
        return None
    doc = await stores.db.tokens.find_one(
        {"_id": digest(token), "expires_at": {"$gt": utcnow()}}, {"user_id": 1}
    )
    return doc["user_id"] if doc else None


async def revoke(stores: Stores, token: str) -> bool:
    """Revoke one token; False when it was not live."""
    result = await stores.db.tokens.delete_one({"_id": digest(token)})
    return result.deleted_count == 1


async def revoke_all(stores: Stores, user_id: str) -> int:
    """Revoke every token of a user (sign out everywhere); returns how many."""
    result = await stores.db.tokens.delete_many({"user_id": user_id})
    return result.deleted_count
