"""Sign up, log in, log out and /v1/me over HTTP against the live api."""

from __future__ import annotations

import datetime

import statistics
import time
import uuid

import httpx
import pytest

from accounts import tokens
from tests.conftest import signup

PASSWORD = "correct horse battery"


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


async def snapshot(stores) -> tuple[int, int]:
    return await stores.db.users.count_documents({}), await stores.db.tokens.count_documents({})


async def test_signup_login_me_logout(http, stores):
    handle = "Mixed_" + uuid.uuid4().hex[:8]
    r = await http.post("/v1/auth/signup", json={"handle": handle, "password": PASSWORD, "birth_date": "1990-01-01"})
    assert r.status_code == 201, r.text
    first = r.json()
    assert set(first) == {"token", "expires_at", "user"}
    user = first["user"]
    assert user["handle"] == handle and user["id"].startswith("user_")
    assert (user["followers"], user["following"], user["bio"]) == (0, 0, "")
    assert abs(user["created_at"] - time.time()) < 3600 * 24 * 366 * 5  # unix seconds, not ms
    assert first["expires_at"] > user["created_at"]

    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {first['token']}"})
    assert me.status_code == 200 and me.json() == user

    # Login with any case of the handle gives a second, independent token.
    r = await http.post("/v1/auth/login", json={"handle": handle.lower(), "password": PASSWORD})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["user"]["id"] == user["id"] and second["token"] != first["token"]

    r = await http.post("/v1/auth/logout", headers={"Authorization": f"Bearer {first['token']}"})
    assert r.status_code == 204 and r.content == b""
    assert_error(await http.get("/v1/me", headers={"Authorization": f"Bearer {first['token']}"}), 401, "invalid_token")
    assert_error(await http.post("/v1/auth/logout", headers={"Authorization": f"Bearer {first['token']}"}), 401)
    r = await http.get("/v1/me", headers={"Authorization": f"bearer {second['token']}"})  # scheme is case-insensitive
    assert r.status_code == 200 and r.json()["id"] == user["id"]


async def test_revoked_token_is_refused_at_once(http, stores):
    a = await signup(http)
    assert (await http.get("/v1/me", headers=a["headers"])).status_code == 200
    assert await tokens.revoke(stores, a["token"])
    assert_error(await http.get("/v1/me", headers=a["headers"]), 401, "invalid_token")


async def test_handles_are_unique_ignoring_case(http, stores):
    handle = "Dup_" + uuid.uuid4().hex[:8]
    await signup(http, handle)
    before = await snapshot(stores)
    for variant in (handle, handle.lower(), handle.upper(), handle.swapcase()):
        r = await http.post("/v1/auth/signup", json={"handle": variant, "password": PASSWORD, "birth_date": "1990-01-01"})
        assert_error(r, 409, "handle_taken")
    assert await snapshot(stores) == before


async def test_wrong_password_and_unknown_handle_look_the_same(http):
    a = await signup(http)
    handle = a["user"]["handle"]

    async def attempt(who: str, pw: str) -> tuple[httpx.Response, float]:
        started = time.perf_counter()
        r = await http.post("/v1/auth/login", json={"handle": who, "password": pw})
        return r, time.perf_counter() - started

    wrong, unknown = [], []
    for _ in range(3):
        wrong.append(await attempt(handle, "not the password"))
        unknown.append(await attempt("ghost_" + uuid.uuid4().hex[:8], PASSWORD))
    shapes = {(r.status_code, r.content, r.headers["content-type"]) for r, _ in wrong + unknown}
    assert len(shapes) == 1
    assert_error(wrong[0][0], 401, "invalid_credentials")
    # An unknown handle is checked against a dummy hash: it costs about as much
    # as a real verification (argon2 dominates both; a missing check would be
    # tens of times faster).
    slow, fast = statistics.median(t for _, t in wrong), statistics.median(t for _, t in unknown)
    assert fast > 0.4 * slow, (fast, slow)
    # A handle that could never be registered fails the same way, not with a 400.
    r = await http.post("/v1/auth/login", json={"handle": "no such handle!", "password": "x"})
    assert (r.status_code, r.content) == (wrong[0][0].status_code, wrong[0][0].content)


async def test_http_requests_ignore_a_token_in_the_query(http):
    a = await signup(http)
    assert_error(await http.get("/v1/me", params={"token": a["token"]}), 401, "missing_token")


BIG = "x" * (300 * 1024)
VALID = {"handle": "fine_handle", "password": PASSWORD}

SIGNUP_BAD = [
    ("malformed json", b'{"handle": "abc", ', 400),
    ("not an object", b'["abc", "password1"]', 400),
    ("null", b"null", 400),
    ("empty body", b"", 400),
    ("handle wrong type", {"handle": 123, "password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("password wrong type", {"handle": "okay_name", "password": 12345678, "birth_date": "1990-01-01"}, 400),
    ("unknown field", {**VALID, "birth_date": "1990-01-01", "admin": True}, 400),
    ("missing password", {"handle": "okay_name", "birth_date": "1990-01-01"}, 400),
    ("missing handle", {"password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("handle too short", {"handle": "ab", "password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("handle too long", {"handle": "x" * 31, "password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("handle with space", {"handle": "ab cd", "password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("handle with newline", {"handle": "abcd\n", "password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("handle not ascii", {"handle": "ñandú", "password": PASSWORD, "birth_date": "1990-01-01"}, 400),
    ("password too short", {"handle": "okay_name", "password": "1234567", "birth_date": "1990-01-01"}, 400),
    ("password too long", {"handle": "okay_name", "password": "p" * 257, "birth_date": "1990-01-01"}, 400),
    ("birth date missing", {"handle": "okay_name", "password": PASSWORD}, 400),
    ("birth date not a date", {"handle": "okay_name", "password": PASSWORD, "birth_date": "2001-02-30"}, 400),
    ("birth date wrong shape", {"handle": "okay_name", "password": PASSWORD, "birth_date": "01/02/2001"}, 400),
    ("birth date a number", {"handle": "okay_name", "password": PASSWORD, "birth_date": 20010101}, 400),
    ("birth date in the future", {"handle": "okay_name", "password": PASSWORD, "birth_date": "2999-01-01"}, 422),
    ("birth date absurd", {"handle": "okay_name", "password": PASSWORD, "birth_date": "1066-10-14"}, 422),
    ("under 13", {"handle": "okay_name", "password": PASSWORD, "birth_date": f"{datetime.date.today().year - 5}-06-01"}, 403),
    ("oversized body", {"handle": "okay_name", "password": PASSWORD, "pad": BIG, "birth_date": "1990-01-01"}, 413),
]

LOGIN_BAD = [
    ("malformed json", b"{", 400),
    ("not an object", b"42", 400),
    ("empty body", b"", 400),
    ("handle wrong type", {"handle": ["a"], "password": PASSWORD}, 400),
    ("unknown field", {**VALID, "remember": True}, 400),
    ("missing password", {"handle": "okay_name"}, 400),
    ("password too long", {"handle": "okay_name", "password": "p" * 257}, 400),
    ("oversized body", {"handle": "okay_name", "password": BIG}, 413),
]


def _send_kwargs(body) -> dict:
    if isinstance(body, bytes):
        return {"content": body, "headers": {"content-type": "application/json"}}
    return {"json": body}


@pytest.mark.parametrize("name, body, status", SIGNUP_BAD, ids=[c[0] for c in SIGNUP_BAD])
async def test_signup_bad_input(http, stores, name, body, status):
    before = await snapshot(stores)
    r = await http.post("/v1/auth/signup", **_send_kwargs(body))
    assert_error(r, status)
    assert await snapshot(stores) == before


@pytest.mark.parametrize("name, body, status", LOGIN_BAD, ids=[c[0] for c in LOGIN_BAD])
async def test_login_bad_input(http, stores, name, body, status):
    before = await snapshot(stores)
    r = await http.post("/v1/auth/login", **_send_kwargs(body))
    assert_error(r, status)
    assert await snapshot(stores) == before


BAD_AUTH = [
    ("no header", {}),
    ("unknown token", {"Authorization": "Bearer fab_" + "A" * 43}),
    ("bearer without token", {"Authorization": "Bearer"}),
    ("token scheme", {"Authorization": "Token fab_" + "A" * 43}),
    ("basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("bare token", {"Authorization": "fab_" + "A" * 43}),
    ("huge token", {"Authorization": "Bearer " + "A" * 4000}),
]


@pytest.mark.parametrize("name, headers", BAD_AUTH, ids=[c[0] for c in BAD_AUTH])
async def test_logout_and_me_need_a_valid_token(http, stores, name, headers):
    await signup(http)  # at least one live token exists
    before = await snapshot(stores)
    assert_error(await http.post("/v1/auth/logout", headers=headers), 401)
    assert_error(await http.get("/v1/me", headers=headers), 401)
    assert await snapshot(stores) == before


async def test_openapi_declares_every_error_status(http):
    spec = (await http.get("/schema/openapi.json")).json()
    want = {
        ("/v1/auth/signup", "post"): {"201", "400", "403", "409", "413", "422"},
        ("/v1/auth/login", "post"): {"200", "400", "401", "413"},
        ("/v1/auth/logout", "post"): {"204", "400", "401", "413"},
        ("/v1/me", "get"): {"200", "400", "401", "413"},
        ("/v1/me", "patch"): {"200", "400", "401", "403", "409", "413", "422"},
        ("/v1/users", "get"): {"200", "400", "401"},
        ("/v1/users/{handle}", "get"): {"200", "401", "404"},
        ("/v1/users/{handle}/followers", "get"): {"200", "400", "401", "404"},
        ("/v1/users/{handle}/following", "get"): {"200", "400", "401", "404"},
        ("/v1/users/{handle}/follow", "post"): {"200", "401", "403", "404"},
        ("/v1/users/{handle}/follow", "delete"): {"200", "401", "403", "404"},
        ("/v1/users/{handle}/block", "post"): {"200", "400", "401", "404"},
        ("/v1/users/{handle}/block", "delete"): {"200", "401", "404"},
    }
    for (path, method), statuses in want.items():
        declared = set(spec["paths"][path][method]["responses"])
        assert statuses <= declared, (path, method, declared)


async def test_an_oversized_json_body_names_the_limit(http, settings):
    """413 ``payload_too_large`` says the limit in ``details`` (as the upload routes do),
    whether the body announces its length or comes chunked."""
    big = b'{"handle": "okay_name", "password": "' + b"p" * settings.max_body_bytes + b'"}'

    async def chunked():
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    for content in (big, chunked()):
        r = await http.post("/v1/auth/login", content=content, headers={"content-type": "application/json"})
        err = assert_error(r, 413, "payload_too_large")
        assert err["details"] == {"limit": settings.max_body_bytes}, err
        assert str(settings.max_body_bytes) in err["message"], err
