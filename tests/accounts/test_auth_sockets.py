"""Revoking a token closes every WebSocket opened with it (4401), on every
api replica: the session's api and a second api process on the same
servers and namespace."""

from __future__ import annotations

import pytest

from accounts import tokens
from server.ws import protocol as proto
from tests.conftest import signup
from tests.procs import start_api
from tests.server.test_ws import assert_usable, closed_code, connect


@pytest.fixture(scope="module")
def replica(settings, tmp_root, api):
    proc = start_api(settings, tmp_root / "logs")
    yield proc
    proc.stop()


async def login(http, user: dict) -> dict:
    r = await http.post("/v1/auth/login", json={"handle": user["user"]["handle"], "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    body = r.json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    body["user"] = user["user"]
    return body


async def test_logout_closes_the_sockets_of_that_token_on_every_replica(http, api, replica):
    first = await signup(http)
    second = await login(http, first)
    async with (
        connect(api, first) as here,
        connect(replica, first, via="query") as there,
        connect(api, second) as other_token,
        connect(replica, second) as other_token_there,
    ):
        await assert_usable(here)
        await assert_usable(there)
        r = await http.post("/v1/auth/logout", headers=first["headers"])
        assert r.status_code == 204
        assert await closed_code(here) == proto.CLOSE_UNAUTHORIZED
        assert await closed_code(there) == proto.CLOSE_UNAUTHORIZED
        # the same user's other token keeps its sockets
        await assert_usable(other_token)
        await assert_usable(other_token_there)


async def test_revoking_through_accounts_closes_sockets_too(http, stores, api, replica):
    # a revocation made by any process (here: the test's own) reaches every replica
    user = await signup(http)
    async with connect(api, user) as here, connect(replica, user) as there:
        await assert_usable(here)
        assert await tokens.revoke(stores, user["token"])
        assert await closed_code(here) == proto.CLOSE_UNAUTHORIZED
        assert await closed_code(there) == proto.CLOSE_UNAUTHORIZED

