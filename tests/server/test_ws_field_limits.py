"""Length limits on the strings a WebSocket client sends (server.ws.protocol):
the envelope's ``type`` and ``id`` and the ids in ``data``. One character past
a limit is an ``invalid_message`` that does not repeat the value; a value at
the limit is still served. (The rtc messages' ids: tests/server/test_preview_rtc.py.)"""

from __future__ import annotations

import asyncio
import json

import pytest

from server.ws import protocol as proto
from tests.conftest import signup
from tests.server.test_ws import WAIT, assert_usable, connect, recv, send


async def recv_raw(ws) -> str:
    return await asyncio.wait_for(ws.recv(), WAIT)


def assert_refused_without_echo(raw: str, msg: dict, value: str, reply_to: str | None) -> None:
    assert msg["type"] == "error" and msg["data"]["code"] == "invalid_message", msg
    assert msg.get("id") == reply_to, msg
    assert value not in raw  # neither the message nor any other field carries it back
    assert len(raw) < 500, raw[:300]


async def test_envelope_id_and_type_are_bounded(api, http):
    me = await signup(http)
    async with connect(api, me) as ws:
        longest_id = "i" * proto.MAX_REQUEST_ID_LENGTH
        await send(ws, "ping", {}, longest_id)
        assert await recv(ws) == {"type": "pong", "data": {}, "id": longest_id}

        too_long_id = "j" * (proto.MAX_REQUEST_ID_LENGTH + 1)
        await send(ws, "ping", {}, too_long_id)
        raw = await recv_raw(ws)
        assert_refused_without_echo(raw, json.loads(raw), too_long_id, None)  # the envelope was not read: no id

        longest_type = "t" * proto.MAX_TYPE_LENGTH  # a well-formed envelope, of a type nobody serves
        await send(ws, longest_type, {}, "t1")
        msg = await recv(ws)
        assert msg["type"] == "error" and msg["data"]["code"] == "unknown_type" and msg["id"] == "t1", msg

        too_long_type = "u" * (proto.MAX_TYPE_LENGTH + 1)
        await send(ws, too_long_type, {}, "t2")
        raw = await recv_raw(ws)
        # the type is not echoed; the id, which could be read, is (WEBSOCKET.md, "Errors")
        assert_refused_without_echo(raw, json.loads(raw), too_long_type, "t2")
        await assert_usable(ws)


@pytest.mark.parametrize("type_", ["subscribe", "unsubscribe"])
async def test_video_ids_are_bounded_and_never_echoed(api, http, type_):
    me = await signup(http)
    async with connect(api, me) as ws:
        for n in (proto.MAX_OBJECT_ID_LENGTH + 1, 60_000):
            video_id = "v" * n
            await send(ws, type_, {"video_id": video_id}, f"long-{n}")
            raw = await recv_raw(ws)
            assert_refused_without_echo(raw, json.loads(raw), video_id, f"long-{n}")

        at_limit = "w" * proto.MAX_OBJECT_ID_LENGTH  # accepted as a message: the handler answers it
        await send(ws, type_, {"video_id": at_limit}, "at-limit")
        msg = await recv(ws)
        if type_ == "subscribe":
            assert msg["type"] == "error" and msg["data"]["code"] == "video_not_found" and msg["id"] == "at-limit", msg
        else:
            assert msg == {"type": "unsubscribed", "data": {"video_id": at_limit}, "id": "at-limit"}
        await assert_usable(ws)


async def test_notification_ids_are_bounded(api, http):
    me = await signup(http)
    async with connect(api, me) as ws:
        too_long = "n" * (proto.MAX_OBJECT_ID_LENGTH + 1)
        await send(ws, "notifications_read", {"ids": [too_long]}, "r1")
        raw = await recv_raw(ws)
        assert_refused_without_echo(raw, json.loads(raw), too_long, "r1")
        await send(ws, "notifications_read", {"ids": ["n" * proto.MAX_OBJECT_ID_LENGTH]}, "r2")
        assert await recv(ws) == {"type": "notifications_read", "data": {"marked": 0, "unread_count": 0}, "id": "r2"}
