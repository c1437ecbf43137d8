"""Message limits on the WebSocket (server.ws.rate), against an api of its
own with small limits: a flood gets ``rate_limited`` errors that answer each
message by its id with a wait, the socket stays open and works again after
the wait; the user's limit holds across sockets; another user is not
affected; a client that keeps flooding far past the limit is closed (1008)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import msgspec
import pytest
import websockets

from core.stores import open_stores
from server.ws import protocol as proto
from tests.conftest import signup
from tests.feed.test_social import ready_video
from tests.procs import start_api
from tests.server.test_ws import WAIT, closed_code, recv, send, ws_url

CONN, USER, CLOSE_AFTER = 5, 8, 20


@pytest.fixture(scope="module")
def limited_settings(settings):
    return msgspec.structs.replace(
        settings,
        namespace=settings.namespace + "wr" + uuid.uuid4().hex[:6],
        rate_ws_connection=f"{CONN}/20s",  # 5 at once, then one every 4 s
        rate_ws_user=f"{USER}/20s",
        rate_ws_close_after=CLOSE_AFTER,
    )


@pytest.fixture(scope="module")
def limited_api(limited_settings, tmp_root):
    proc = start_api(limited_settings, tmp_root / "logs")
    yield proc
    proc.stop()


@pytest.fixture
async def limited_stores(limited_settings, limited_api):
    stores = open_stores(limited_settings)
    yield stores
    await stores.close()


@pytest.fixture
async def client(limited_api):
    async with httpx.AsyncClient(base_url=limited_api.url, timeout=30) as c:
        yield c


async def opened(api, user: dict):
    ws = await websockets.connect(ws_url(api), additional_headers=user["headers"], open_timeout=WAIT)
    assert (await recv(ws))["type"] == "hello"
    return ws


async def burst(ws, n: int, tag: str) -> list[dict]:
    """Send ``n`` pings at once, then read their ``n`` answers."""
    for i in range(n):
        await send(ws, "ping", {"i": i}, f"{tag}{i}")
    return [await recv(ws) for _ in range(n)]


def refused(answers: list[dict]) -> list[dict]:
    return [a for a in answers if a["type"] == "error"]


async def test_a_flood_is_refused_by_id_and_the_socket_works_after_the_wait(limited_api, client, limited_stores):
    me, other = await signup(client), await signup(client)
    their_video = (await ready_video(limited_stores, other))
    ws = await opened(limited_api, me)
    try:
        answers = await burst(ws, CONN + 4, "p")
        assert [a["id"] for a in answers] == [f"p{i}" for i in range(CONN + 4)]  # every message answered, in order
        pongs = [a for a in answers if a["type"] == "pong"]
        errors = refused(answers)
        assert len(pongs) in (CONN, CONN + 1) and len(pongs) + len(errors) == CONN + 4, answers  # (one may have refilled)
        assert answers[:CONN] == [{"type": "pong", "data": {"i": i}, "id": f"p{i}"} for i in range(CONN)]
        for err in errors:
            data = err["data"]
            assert set(data) == {"code", "message", "retry_after_s", "limit"}, data
            assert data["code"] == "rate_limited" and data["limit"] == "ws:conn"
            assert 0 < data["retry_after_s"] <= 20 and data["message"]

        # another user is not affected
        theirs = await opened(limited_api, other)
        await send(theirs, "ping", {}, "theirs")
        assert await recv(theirs) == {"type": "pong", "data": {}, "id": "theirs"}
        await theirs.close()

        # a refused message is not handled at all
        await send(ws, "subscribe", {"video_id": "video_" + "0" * 26}, "sub")
        sub = await recv(ws)
        assert sub["id"] == "sub" and sub["data"]["code"] == "rate_limited", sub

        # after the wait the same socket works again
        await asyncio.sleep(sub["data"]["retry_after_s"] + 0.05)
        reply = await _one(ws, "after")
        for _ in range(3):  # (the wait is the server's estimate: a late token is waited for again, never assumed)
            if reply["type"] == "pong":
                break
            await asyncio.sleep(reply["data"]["retry_after_s"] + 0.05)
            reply = await _one(ws, "after")
        assert reply == {"type": "pong", "data": {}, "id": "after"}, reply

        # and a message that is let through is handled as ever: another user's video is not found
        fresh = await opened(limited_api, me)  # (a connection of its own has a full bucket; the user's is not empty)
        await send(fresh, "subscribe", {"video_id": their_video}, "theirs")
        assert (await recv(fresh))["data"]["code"] == "video_not_found"
        await fresh.close()
    finally:
        await ws.close()


async def _one(ws, tag: str) -> dict:
    await send(ws, "ping", {}, tag)
    return await recv(ws)


async def test_the_users_limit_holds_across_sockets(limited_api, client):
    me = await signup(client)
    a, b = await opened(limited_api, me), await opened(limited_api, me)
    try:
        first = await burst(a, CONN, "a")
        assert all(x["type"] == "pong" for x in first), first  # within both limits
        second = await burst(b, CONN, "b")  # a fresh connection, but the user has USER - CONN left
        pongs = [x for x in second if x["type"] == "pong"]
        assert USER - CONN <= len(pongs) < CONN, second  # (a token may refill meanwhile)
        assert refused(second) and all(e["data"]["limit"] == "ws:user" for e in refused(second)), second
    finally:
        await a.close()
        await b.close()


async def test_a_client_that_keeps_flooding_is_closed(limited_api, client):
    me = await signup(client)
    ws = await opened(limited_api, me)
    for i in range(CONN + CLOSE_AFTER + 10):
        try:
            await send(ws, "ping", {}, f"f{i}")
        except websockets.ConnectionClosed:
            break
    answers = []
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))
    assert info.value.rcvd is not None and info.value.rcvd.code == proto.CLOSE_RATE_LIMITED == 1008
    errors = refused(answers)
    assert len(errors) >= CLOSE_AFTER, len(errors)  # (more if a token refilled on the way) the last one says so
    assert "closes" in errors[-1]["data"]["message"] and errors[-1]["data"]["code"] == "rate_limited"
    # the user is not shut out: a new socket works once the wait is over
    again = await opened(limited_api, me)
    try:
        for _ in range(10):
            reply = await _one(again, "back")
            if reply["type"] == "pong":
                break
            await asyncio.sleep(reply["data"]["retry_after_s"] + 0.05)
        assert reply["type"] == "pong", reply
    finally:
        await again.close()


async def test_the_shared_api_keeps_its_default_limits(api, http, settings):
    """The suite's api runs the default limits: an ordinary burst of a client is far inside them."""
    assert settings.rate_ws_connection == "60/10s" and settings.rate_ws_user == "150/10s"
    me = await signup(http)
    ws = await opened(api, me)
    try:
        answers = await burst(ws, 30, "n")
        assert all(a["type"] == "pong" for a in answers), refused(answers)
    finally:
        await ws.close()


async def test_the_python_client_waits_and_sends_a_refused_request_again(limited_api, client):
    """The client's ``Socket.request`` does what WEBSOCKET.md asks of a client:
    a message refused by the limits was not handled, so it waits the
    ``retry_after_s`` the server named and sends it again; with no retries
    left, the refusal is raised with that wait in its details."""
    from clients.fabula_client import FabulaAPIError, Socket

    me, other = await signup(client), await signup(client)
    async with Socket(ws_url(limited_api), me["token"]) as ws:
        answers = await asyncio.gather(*(ws.request("ping", {"i": i}) for i in range(CONN + 1)))
    assert [a["type"] for a in answers] == ["pong"] * (CONN + 1)  # the one over the burst too, after its wait
    async with Socket(ws_url(limited_api), other["token"], rate_limit_retries=0) as ws:
        got = await asyncio.gather(*(ws.request("ping", {"i": i}) for i in range(CONN + 1)), return_exceptions=True)
    errors = [g for g in got if isinstance(g, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], FabulaAPIError) and errors[0].code == "rate_limited", got
    assert errors[0].details["retry_after_s"] > 0 and errors[0].details["limit"] == "ws:conn"
