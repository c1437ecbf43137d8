"""Bearer tokens: 32 random bytes handed to the client once; the store keeps
only their SHA-256, so a leaked database holds no usable token. Revoking a
token deletes its document, which takes effect on the next request.

Every authenticated request resolves its token, so the answer is cached in
Redis for a short while (``CACHE_TTL_S``). Revoking writes a tombstone over
the cache entry, and the resolver only ever fills an empty entry (SET NX), so
a lookup racing a revocation cannot bring the token back. Each revocation is
also announced on ``REVOKED`` (a ``core.broadcast``) with the revoked
tokens' digests, so that every api process closes the WebSockets opened with
them (``server.token_sockets``).

Expiry slides: a token expires ``token_ttl_s`` after it was last used, but
never later than ``token_max_age_s`` after it was issued. Use is seen when
the resolver reads the token's document (a cache miss, at most once per
``CACHE_TTL_S``), and the document is written only when its expiry is more
than ``token_extend_every_s`` behind: at most one write per token per hour
by default, however busy the token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import msgspec

from core.broadcast import Broadcast
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


class RevokedTokens(msgspec.Struct, kw_only=True):
    """Tokens that stopped working, by digest (never the tokens themselves)."""

    digests: list[str]


REVOKED: Broadcast[RevokedTokens] = Broadcast("tokens:revoked", RevokedTokens)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _expiry(stores: Stores, issued_at: datetime, now: datetime) -> datetime:
    settings = stores.settings
    return min(now + timedelta(seconds=settings.token_ttl_s), issued_at + timedelta(seconds=settings.token_max_age_s))


async def issue(stores: Stores, user_id: str) -> Issued:
    token = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = _expiry(stores, now, now)
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
    return await resolve_digest(stores, digest(token))


async def resolve_digest(stores: Stores, token_digest: str) -> str | None:
    """``resolve`` for a token known by its digest; extends the token's expiry (see above)."""
    key = _cache_key(stores, token_digest)
    cached = await stores.redis.get(key)
    if cached is not None:
        return None if cached == _REVOKED else cached.decode()
    now = utcnow()
    doc = await stores.db.tokens.find_one(
        {"_id": token_digest, "expires_at": {"$gt": now}}, {"user_id": 1, "expires_at": 1, "created_at": 1}
    )
    if doc is None:
        return None
    expires = as_utc(doc["expires_at"])
    extended = _expiry(stores, as_utc(doc["created_at"]), now)
    if extended - expires > timedelta(seconds=stores.settings.token_extend_every_s):
        # conditional: a revocation that deleted the document meanwhile is not undone
        await stores.db.tokens.update_one({"_id": token_digest, "expires_at": doc["expires_at"]}, {"$set": {"expires_at": extended}})
        expires = extended
    left = int((expires - now).total_seconds())
    if left > 0:
        await stores.redis.set(key, doc["user_id"], ex=min(CACHE_TTL_S, left), nx=True)
    return doc["user_id"]


async def expires_at(stores: Stores, token: str) -> int | None:
    """When ``token`` expires unless used again (unix seconds), or None when it is not live."""
    doc = await stores.db.tokens.find_one({"_id": digest(token), "expires_at": {"$gt": utcnow()}}, {"expires_at": 1})
    return unix(as_utc(doc["expires_at"])) if doc else None


async def _forget(stores: Stores, digests: list[str]) -> None:
    if digests:
        async with stores.redis.pipeline(transaction=False) as pipe:
            for token_digest in digests:
                pipe.set(_cache_key(stores, token_digest), _REVOKED, ex=CACHE_TTL_S)
            await pipe.execute()
        await REVOKED.announce(stores, RevokedTokens(digests=digests))


async def revoke(stores: Stores, token: str) -> bool:
    """Revoke one token; False when it was not live."""
    token_digest = digest(token)
    result = await stores.db.tokens.delete_one({"_id": token_digest})
    await _forget(stores, [token_digest])
    return result.deleted_count == 1


async def revoke_all(stores: Stores, user_id: str, *, keep: str | None = None) -> int:
    """Revoke every token of a user (sign out everywhere), except the token
    ``keep`` when given (the one a password change was made with); returns how many."""
    query: dict = {"user_id": user_id}
    if keep is not None:
        query["_id"] = {"$ne": digest(keep)}
    digests = [doc["_id"] async for doc in stores.db.tokens.find(query, {"_id": 1})]
    if not digests:
        return 0
    result = await stores.db.tokens.delete_many({"_id": {"$in": digests}})
    await _forget(stores, digests)
    return result.deleted_count
