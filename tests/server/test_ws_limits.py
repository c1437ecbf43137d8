"""A user holds at most ``ws_max_connections_per_user`` sockets on one api
process: one more gets ``too_many_connections`` and close code 4429; a
socket closed frees its place (server.ws.limits)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import websockets

from server.ws import protocol as proto
from tests.conftest import signup
from tests.server.test_ws import WAIT, closed_code, connect, recv, send


async def test_a_user_holds_at_most_the_socket_limit(api, http, settings):
    me, other = await signup(http), await signup(http)
    limit = settings.ws_max_connections_per_user
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(connect(api, me)) for _ in range(limit)]
        async with websockets.connect(api.url.replace("http", "ws", 1) + "/v1/ws", additional_headers=me["headers"], open_timeout=WAIT) as over:
            msg = json.loads(await asyncio.wait_for(over.recv(), WAIT))
            assert msg["type"] == "error" and msg["data"]["code"] == "too_many_connections", msg
            assert await closed_code(over) == proto.CLOSE_TOO_MANY_CONNECTIONS
        async with connect(api, other) as theirs:  # another user is not affected
            await send(theirs, "ping", {}, "p")
            assert (await recv(theirs))["type"] == "pong"
        await held.pop().close()
        await asyncio.sleep(0)  # (the close is counted when the server sees it: retried below)
        for _ in range(100):
            async with websockets.connect(api.url.replace("http", "ws", 1) + "/v1/ws", additional_headers=me["headers"], open_timeout=WAIT) as again:
                first = json.loads(await asyncio.wait_for(again.recv(), WAIT))
                if first["type"] == "hello":
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("a socket closed did not free its place")
