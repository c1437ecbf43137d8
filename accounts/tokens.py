"""Bearer tokens: 32 random bytes handed to the client once; the store keeps
only their SHA-256, so a leaked database holds no usable token. Revoking a
token deletes its document, which takes effect on the next request.

Every authenticated request resolves its token, so the answer is cached in
Redis for a short while (``CACHE_TTL_S``). Revoking writes a tombstone over
the cache entry, and the resolver only ever fills an empty entry (SET NX), so
a lookup racing a revocation cannot bring the token back."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import msgspec

from core.clock import as_utc, unix, utcnow
from core.ids import new_id
from core.stores import Stores

PREFIX = "fab_"
# A real token is PREFIX + 43 url-safe characters; anything much longer is
# refused before it reaches the store.
MAX_LENGTH = 128
CACHE_TTL_S = 60
_REVOKED = b"-"


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


def _cache_key(stores: Stores, token_digest: str) -> str:
    return stores.key("tok", token_digest)


async def resolve(stores: Stores, token: str) -> str | None:
    """The id of the user ``token`` belongs to, or None (unknown, revoked or expired)."""
    if not token or len(token) > MAX_LENGTH:
        return None
    token_digest = digest(token)
    key = _cache_key(stores, token_digest)
    cached = await stores.redis.get(key)
    if cached is not None:
        return None if cached == _REVOKED else cached.decode()
    now = utcnow()
    doc = await stores.db.tokens.find_one({"_id": token_digest, "expires_at": {"$gt": now}}, {"user_id": 1, "expires_at": 1})
    if doc is None:
        return None
    left = int((as_utc(doc["expires_at"]) - now).total_seconds())
    if left > 0:
        await stores.redis.set(key, doc["user_id"], ex=min(CACHE_TTL_S, left), nx=True)
    return doc["user_id"]


async def _forget(stores: Stores, digests: list[str]) -> None:
    if digests:
        async with stores.redis.pipeline(transaction=False) as pipe:
            for token_digest in digests:
                pipe.set(_cache_key(stores, token_digest), _REVOKED, ex=CACHE_TTL_S)
            await pipe.execute()


async def revoke(stores: Stores, token: str) -> bool:
    """Revoke one token; False when it was not live."""
    token_digest = digest(token)
    result = await stores.db.tokens.delete_one({"_id": token_digest})
    await _forget(stores, [token_digest])
    return result.deleted_count == 1


async def revoke_all(stores: Stores, user_id: str) -> int:
    """Revoke every token of a user (sign out everywhere); returns how many."""
    digests = [doc["_id"] async for doc in stores.db.tokens.find({"user_id": user_id}, {"_id": 1})]
    result = await stores.db.tokens.delete_many({"user_id": user_id})
    await _forget(stores, digests)
    return result.deleted_count
