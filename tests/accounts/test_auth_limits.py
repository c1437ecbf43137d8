"""Attempt limits on login (per handle and per client address, with a
growing lockout) and signup (per client address), against an api of their
own with small limits. Client addresses come from X-Forwarded-For, which
uvicorn honours from a proxy on the loopback (as the test client is)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import msgspec
import pytest

from tests.procs import start_api
from tests.accounts.test_auth_routes import assert_error

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def limited_api(settings, tmp_root):
    limited = msgspec.structs.replace(
        settings,
        namespace=settings.namespace + "rl" + uuid.uuid4().hex[:6],
        rate_login_handle="3/1h",
        rate_login_ip="6/1h",
        rate_login_lockout_s=2,
        rate_login_lockout_max_s=60,
        rate_signup_ip="2/1h",
    )
    proc = start_api(limited, tmp_root / "logs")
    yield proc
    proc.stop()


@pytest.fixture
async def client(limited_api):
    async with httpx.AsyncClient(base_url=limited_api.url, timeout=30) as c:
        yield c


def address() -> dict[str, str]:
    """Headers that make the next requests come from an address of their own."""
    return {"X-Forwarded-For": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"}


async def make_user(client: httpx.AsyncClient) -> str:
    handle = "rl_" + uuid.uuid4().hex[:10]
    r = await client.post("/v1/auth/signup", json={"handle": handle, "password": PASSWORD, "birth_date": "1990-01-01"}, headers=address())
    assert r.status_code == 201, r.text
    return handle


def assert_limited(r: httpx.Response, limit: str) -> int:
    err = assert_error(r, 429, "rate_limited")
    wait = int(r.headers["retry-after"])
    assert wait >= 1 and err["details"] == {"limit": limit, "retry_after_s": wait}
    return wait


async def login(client, handle, password, headers):
    return await client.post("/v1/auth/login", json={"handle": handle, "password": password}, headers=headers)


async def test_wrong_passwords_lock_the_handle_even_for_the_right_one(client):
    handle = await make_user(client)
    for _ in range(3):
        assert_error(await login(client, handle, "not the password", address()), 401, "invalid_credentials")
    # from anywhere, in any case, and with the right password: refused
    assert_limited(await login(client, handle, PASSWORD, address()), "login:handle")
    assert_limited(await login(client, handle.upper(), PASSWORD, address()), "login:handle")
    # other handles are not affected
    other = await make_user(client)
    assert (await login(client, other, PASSWORD, address())).status_code == 200


async def test_a_good_login_resets_the_handle(client):
    handle = await make_user(client)
    for _ in range(2):
        assert (await login(client, handle, "not the password", address())).status_code == 401
    assert (await login(client, handle, PASSWORD, address())).status_code == 200
    for _ in range(3):  # a full bucket again
        assert (await login(client, handle, "not the password", address())).status_code == 401
    assert_limited(await login(client, handle, "not the password", address()), "login:handle")


async def test_the_lockout_grows(limited_api, settings):
    # a token a second, a lockout of one second to begin with: the lockout sets the wait
    fast = msgspec.structs.replace(
        settings, namespace=settings.namespace + "rf" + uuid.uuid4().hex[:6],
        rate_login_handle="2/2s", rate_login_ip="off", rate_login_lockout_s=1, rate_login_lockout_max_s=60,
    )
    proc = start_api(fast, limited_api.log_path.parent)
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as c:
            handle = await make_user(c)
            waits = []
            for _ in range(3):
                for _ in range(10):
                    r = await login(c, handle, "not the password", {})
                    if r.status_code == 429:
                        break
                    assert r.status_code == 401
                waits.append(assert_limited(r, "login:handle"))
                await asyncio.sleep(waits[-1])  # the time a locked-out client has to wait
            assert waits == [1, 2, 4], waits
    finally:
        proc.stop()


async def test_one_address_is_limited_across_handles(client):
    here = address()
    handles = [await make_user(client) for _ in range(3)]
    results = [await login(client, handles[i % 3], "not the password", here) for i in range(6)]
    assert [r.status_code for r in results] == [401] * 6
    assert_limited(await login(client, handles[0], PASSWORD, here), "login:ip")
    # the same handle from elsewhere still logs in
    assert (await login(client, handles[0], PASSWORD, address())).status_code == 200


async def test_signups_per_address(client, stores):
    here = address()
    for _ in range(2):
        r = await client.post("/v1/auth/signup", json={"handle": "su_" + uuid.uuid4().hex[:10], "password": PASSWORD, "birth_date": "1990-01-01"}, headers=here)
        assert r.status_code == 201, r.text
    handle = "su_" + uuid.uuid4().hex[:10]
    r = await client.post("/v1/auth/signup", json={"handle": handle, "password": PASSWORD, "birth_date": "1990-01-01"}, headers=here)
    assert_limited(r, "signup:ip")
    r = await client.post("/v1/auth/signup", json={"handle": handle, "password": PASSWORD, "birth_date": "1990-01-01"}, headers=address())
    assert r.status_code == 201, r.text


async def test_openapi_declares_the_429(client, http):
    spec = (await http.get("/schema/openapi.json")).json()
    for path in ("/v1/auth/login", "/v1/auth/signup"):
        assert "429" in spec["paths"][path]["post"]["responses"], path
