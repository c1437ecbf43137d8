"""Tokens: sliding expiry (extended by use, at most one write an hour,
never past the longest life), log out everywhere, and password change."""

from __future__ import annotations

from datetime import timedelta

from accounts import tokens
from core.clock import as_utc, utcnow

HOUR = timedelta(hours=1)


async def _age(stores, token: str, age: timedelta) -> dict:
    """Make ``token`` look issued ``age`` ago and unused since (and not cached)."""
    issued = utcnow() - age
    fields = {"created_at": issued, "expires_at": issued + timedelta(seconds=stores.settings.token_ttl_s)}
    await stores.db.tokens.update_one({"_id": tokens.digest(token)}, {"$set": fields})
    await stores.redis.delete(stores.key("tok", tokens.digest(token)))
    return fields


async def _expiry(stores, token: str):
    return as_utc((await stores.db.tokens.find_one({"_id": tokens.digest(token)}))["expires_at"])


async def test_use_extends_a_token(stores):
    user = "user_slide"
    issued = await tokens.issue(stores, user)
    await _age(stores, issued.token, 2 * HOUR)
    assert await tokens.resolve(stores, issued.token) == user
    ttl = timedelta(seconds=stores.settings.token_ttl_s)
    assert abs(await _expiry(stores, issued.token) - (utcnow() + ttl)) < timedelta(seconds=30)
    assert abs(await tokens.expires_at(stores, issued.token) - (utcnow() + ttl).timestamp()) < 30


async def test_use_within_the_hour_writes_nothing(stores):
    issued = await tokens.issue(stores, "user_slide")
    before = await _age(stores, issued.token, timedelta(minutes=30))
    for _ in range(3):
        assert await tokens.resolve(stores, issued.token) == "user_slide"
        await stores.redis.delete(stores.key("tok", tokens.digest(issued.token)))  # (every read reaches the store)
    assert abs(await _expiry(stores, issued.token) - before["expires_at"]) < timedelta(milliseconds=1)  # (stored to the ms)


async def test_expiry_never_passes_the_longest_life(stores):
    issued = await tokens.issue(stores, "user_slide")
    max_age = timedelta(seconds=stores.settings.token_max_age_s)
    fields = await _age(stores, issued.token, max_age - timedelta(days=2))
    # two days short of its longest life, expiring tomorrow unless used
    await stores.db.tokens.update_one({"_id": tokens.digest(issued.token)}, {"$set": {"expires_at": utcnow() + timedelta(days=1)}})
    assert await tokens.resolve(stores, issued.token) == "user_slide"
    end = as_utc(fields["created_at"]) + max_age
    assert abs(await _expiry(stores, issued.token) - end) < timedelta(seconds=1)


async def test_an_expired_token_is_not_revived(stores):
    issued = await tokens.issue(stores, "user_slide")
    await _age(stores, issued.token, timedelta(seconds=stores.settings.token_ttl_s + 60))
    assert await tokens.resolve(stores, issued.token) is None
    assert await _expiry(stores, issued.token) < utcnow()
    assert await tokens.expires_at(stores, issued.token) is None

