"""Tokens: sliding expiry (extended by use, at most one write an hour,
never past the longest life), log out everywhere, and password change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts import tokens
from core.clock import as_utc, utcnow
from server.ws import protocol as proto
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.accounts.test_auth_sockets import login
from tests.server.test_ws import assert_usable, closed_code, connect

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
    doc = await stores.db.tokens.find_one({"_id": tokens.digest(issued.token)})
    assert doc is None or as_utc(doc["expires_at"]) < utcnow()  # (the TTL index may have purged it already)
    assert await tokens.expires_at(stores, issued.token) is None



# --- over HTTP: log out everywhere, password change -----------------------------

PASSWORD = "correct horse battery"
NEW_PASSWORD = "purple elephant sunrise"


async def test_logout_everywhere(http, api):
    me = await signup(http)
    second = await login(http, me)
    someone = await signup(http)
    async with connect(api, me) as mine, connect(api, second) as mine_too, connect(api, someone) as theirs:
        r = await http.post("/v1/auth/logout-all", headers=second["headers"])
        assert r.status_code == 200, r.text
        assert r.json() == {"revoked": 2}
        assert await closed_code(mine) == proto.CLOSE_UNAUTHORIZED
        assert await closed_code(mine_too) == proto.CLOSE_UNAUTHORIZED
        await assert_usable(theirs)  # another user's tokens and sockets are untouched
    for token in (me, second):
        assert_error(await http.get("/v1/me", headers=token["headers"]), 401, "invalid_token")
    assert (await http.get("/v1/me", headers=someone["headers"])).status_code == 200
    assert_error(await http.post("/v1/auth/logout-all", headers=me["headers"]), 401)
    assert_error(await http.post("/v1/auth/logout-all"), 401, "missing_token")


async def change_password(http, user: dict, current: str, new: str):
    return await http.post("/v1/auth/password", json={"current_password": current, "new_password": new}, headers=user["headers"])


async def test_password_change_revokes_the_other_tokens(http, api):
    me = await signup(http)
    other = await login(http, me)
    async with connect(api, me) as this_one, connect(api, other) as elsewhere:
        r = await change_password(http, me, PASSWORD, NEW_PASSWORD)
        assert r.status_code == 200, r.text
        assert r.json() == {"revoked": 1}
        assert await closed_code(elsewhere) == proto.CLOSE_UNAUTHORIZED
        await assert_usable(this_one)  # the token the change was made with keeps working
    assert (await http.get("/v1/me", headers=me["headers"])).status_code == 200
    assert_error(await http.get("/v1/me", headers=other["headers"]), 401, "invalid_token")
    handle = me["user"]["handle"]
    r = await http.post("/v1/auth/login", json={"handle": handle, "password": PASSWORD})
    assert_error(r, 401, "invalid_credentials")
    r = await http.post("/v1/auth/login", json={"handle": handle, "password": NEW_PASSWORD})
    assert r.status_code == 200, r.text


async def test_password_change_needs_the_current_password(http, stores):
    me = await signup(http)
    before = (await stores.db.users.find_one({"_id": me["user"]["id"]}))["password_hash"]
    assert_error(await change_password(http, me, "not the password", NEW_PASSWORD), 403, "wrong_password")
    # a weak new password is refused before anything is checked or written
    assert_error(await change_password(http, me, PASSWORD, "password1"), 400)
    assert_error(await change_password(http, me, PASSWORD, "short"), 400)
    assert_error(await http.post("/v1/auth/password", json={"new_password": NEW_PASSWORD}, headers=me["headers"]), 400)
    assert_error(await http.post("/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}), 401)
    # the current password again is no change: refused, and no other device is signed out
    other = await login(http, me)
    err = assert_error(await change_password(http, me, PASSWORD, PASSWORD), 400, "same_password")
    assert err["details"] == [{"field": "new_password"}]
    assert (await http.get("/v1/me", headers=other["headers"])).status_code == 200
    # another user's token changes that user's password, never mine
    someone = await signup(http)
    assert_error(await change_password(http, someone, PASSWORD + "x", NEW_PASSWORD), 403, "wrong_password")
    assert (await stores.db.users.find_one({"_id": me["user"]["id"]}))["password_hash"] == before
    assert (await http.get("/v1/me", headers=me["headers"])).status_code == 200


@pytest.mark.parametrize("path", ["/v1/auth/logout-all", "/v1/auth/password"])
async def test_openapi_declares_the_new_routes(http, path):
    spec = (await http.get("/schema/openapi.json")).json()
    op = spec["paths"][path]["post"]
    assert {"200", "400", "401"} <= set(op["responses"])
    if path == "/v1/auth/password":
        assert {"403", "429"} <= set(op["responses"])
        body = op["requestBody"]["content"]["application/json"]["schema"]
        assert body.get("$ref", "").endswith("PasswordChange"), body


async def test_password_checks_are_limited_per_user(http, settings):
    me, someone = await signup(http), await signup(http)
    capacity = int(settings.rate_password_check.split("/")[0])
    for _ in range(capacity):
        assert_error(await change_password(http, me, "not the password", NEW_PASSWORD), 403, "wrong_password")
    r = await change_password(http, me, PASSWORD, NEW_PASSWORD)  # even the right one, now
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    # per user: another user's checks are their own
    assert (await change_password(http, someone, PASSWORD, NEW_PASSWORD)).status_code == 200
