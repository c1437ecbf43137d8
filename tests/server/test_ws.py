"""The WebSocket API (/v1/ws) against the live api: authentication, the
message envelope and its errors, and following a video job to the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import pytest
import websockets

from core.messages import JobEvent
from gen import events, jobs, queue
from server.ws import protocol as proto
from tests.conftest import signup
from tests.feed.test_posts_feed import FAST, completed_videos, poll

WAIT = 60.0  # seconds any one expected message may take


def ws_url(api, token: str | None = None) -> str:
    url = api.url.replace("http://", "ws://", 1) + "/v1/ws"
    return url + (f"?token={token}" if token is not None else "")


@contextlib.asynccontextmanager
async def connect(api, user: dict | None = None, *, via: str = "header"):
    """An authenticated connection, past its ``hello``."""
    if user is None:
        async with websockets.connect(ws_url(api), open_timeout=WAIT) as ws:
            yield ws
        return
    if via == "header":
        cm = websockets.connect(ws_url(api), additional_headers=user["headers"], open_timeout=WAIT)
    else:
        cm = websockets.connect(ws_url(api, user["token"]), open_timeout=WAIT)
    async with cm as ws:
        hello = await recv(ws)
        assert hello == {"type": "hello", "data": {"user_id": user["user"]["id"], "handle": user["user"]["handle"]}}
        yield ws


async def recv(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def send(ws, type_: str, data=None, id_: str | None = None) -> None:
    msg: dict = {"type": type_}
    if data is not None:
        msg["data"] = data
    if id_ is not None:
        msg["id"] = id_
    await ws.send(json.dumps(msg))


async def assert_usable(ws, tag: str = "still-there") -> None:
    """The very next message answers a ping: the connection works and nothing else was queued."""
    await send(ws, "ping", {"n": 1}, tag)
    assert await recv(ws) == {"type": "pong", "data": {"n": 1}, "id": tag}


async def closed_code(ws) -> int:
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT)
    return info.value.rcvd.code if info.value.rcvd else None


async def queued_job(stores, user: dict) -> jobs.Job:
    """A job in the database that no worker has seen yet (``queue.enqueue`` starts it)."""
    return await jobs.create_job(
        stores, owner_id=user["user"]["id"], prompt="a kite over the dunes", model="tiny", width=64, height=64, seconds=1, steps=4
    )


# --- authentication -----------------------------------------------------------


async def revoked_token(http) -> str:
    user = await signup(http)
    r = await http.post("/v1/auth/logout", headers=user["headers"])
    assert r.status_code == 204
    return user["token"]


AUTH_CASES = [
    ("no token", lambda tok: {}, "missing_token"),
    ("unknown token in header", lambda tok: {"headers": {"Authorization": "Bearer fab_nope"}}, "invalid_token"),
    ("unknown token in query", lambda tok: {"query": "fab_nope"}, "invalid_token"),
    ("empty token in query", lambda tok: {"query": ""}, "missing_token"),
    ("wrong scheme", lambda tok: {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}, "missing_token"),
    ("revoked token", lambda tok: {"headers": {"Authorization": f"Bearer {tok}"}}, "invalid_token"),
]


@pytest.mark.parametrize("name,make,code", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
async def test_handshake_without_a_valid_token_gets_an_error_then_4401(api, http, name, make, code):
    spec = make(await revoked_token(http))
    url = ws_url(api, spec["query"]) if "query" in spec else ws_url(api)
    async with websockets.connect(url, additional_headers=spec.get("headers"), open_timeout=WAIT) as ws:
        msg = await recv(ws)
        assert msg["type"] == "error" and msg["data"]["code"] == code and msg["data"]["message"], msg
        assert await closed_code(ws) == proto.CLOSE_UNAUTHORIZED


@pytest.mark.parametrize("via", ["header", "query"])
async def test_token_in_header_or_query_string(api, http, via):
    me = await signup(http)
    async with connect(api, me, via=via) as ws:
        await assert_usable(ws)


# uvicorn logs each WebSocket handshake with its full URL; the formatter redacts tokens.
async def test_query_token_stays_out_of_the_logs(api, http):
    me = await signup(http)
    async with connect(api, me, via="query") as ws:
        await assert_usable(ws)
    # the handshake is logged before the hello is sent, so the log already holds it
    assert me["token"] not in api.log()


# --- the envelope ----------------------------------------------------------------


async def test_ping_pong_echoes_data_and_id(api, http):
    me = await signup(http)
    async with connect(api, me) as ws:
        await send(ws, "ping", {"t": 1.5, "nested": {"a": [1, 2]}}, "req-1")
        assert await recv(ws) == {"type": "pong", "data": {"t": 1.5, "nested": {"a": [1, 2]}}, "id": "req-1"}
        await send(ws, "ping")
        assert await recv(ws) == {"type": "pong", "data": {}}  # no id asked, none given


BIG = "x" * (proto.MAX_MESSAGE_BYTES + 1)
WIDE = "é" * (proto.MAX_MESSAGE_BYTES // 2 + 16)  # fewer characters than the limit, more bytes

BAD_MESSAGES = [
    # name, frame sent, error code, id echoed
    ("malformed json", '{"type": "ping"', "malformed_json", None),
    ("not json", "hello there", "malformed_json", None),
    ("empty text", "", "malformed_json", None),
    ("json array", '["ping"]', "invalid_message", None),
    ("json string", '"ping"', "invalid_message", None),
    ("missing type", '{"data": {}}', "invalid_message", None),
    ("type not a string", '{"type": 5}', "invalid_message", None),
    ("data not an object", '{"type": "ping", "data": [1]}', "invalid_message", None),
    ("id not a string", '{"type": "ping", "id": 7}', "invalid_message", None),
    ("unknown field", '{"type": "ping", "extra": true}', "invalid_message", None),
    ("unknown type", '{"type": "dance", "id": "d1"}', "unknown_type", "d1"),
    ("handler-looking type", '{"type": "__class__", "id": "d2"}', "unknown_type", "d2"),
    ("subscribe without video_id", '{"type": "subscribe", "data": {}, "id": "s1"}', "invalid_message", "s1"),
    ("subscribe with a number", '{"type": "subscribe", "data": {"video_id": 3}, "id": "s2"}', "invalid_message", "s2"),
    ("subscribe with extra field", '{"type": "subscribe", "data": {"video_id": "v", "x": 1}, "id": "s3"}', "invalid_message", "s3"),
    ("unsubscribe without video_id", '{"type": "unsubscribe", "id": "u1"}', "invalid_message", "u1"),
    ("binary frame", b'{"type": "ping", "id": "b1"}', "invalid_message", None),
    # the id is echoed whenever it can be read, though the rest did not decode
    ("number out of range in data", '{"type": "ping", "id": "n1", "data": {"n": 1e400}}', "invalid_message", "n1"),
    ("integer out of range in data", '{"type": "ping", "id": "n2", "data": {"n": ' + "9" * 5000 + "}}", "invalid_message", "n2"),
    ("unknown field beside an id", '{"type": "ping", "id": "f1", "extra": true}', "invalid_message", "f1"),
    ("id too long to echo", '{"type": "ping", "id": "' + "i" * 129 + '"}', "invalid_message", None),
    ("nested too deeply", '{"type": "ping", "data": {"a": ' + "[" * 20000 + "]" * 20000 + "}}", "malformed_json", None),
]


@pytest.mark.parametrize("name,frame,code,echo", BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
async def test_bad_messages_get_an_error_and_the_connection_stays_usable(api, http, name, frame, code, echo):
    me = await signup(http)
    async with connect(api, me) as ws:
        await ws.send(frame)
        msg = await recv(ws)
        assert msg["type"] == "error", msg
        assert set(msg["data"]) == {"code", "message"} and msg["data"]["code"] == code and msg["data"]["message"], msg
        assert msg.get("id") == echo, msg
        await assert_usable(ws)


async def test_an_unpaired_surrogate_escape_is_named(api, http):
    me = await signup(http)
    async with connect(api, me) as ws:
        await ws.send('{"type": "ping", "id": "\\ud800"}')
        msg = await recv(ws)
        assert msg["type"] == "error" and msg["data"]["code"] == "malformed_json", msg
        assert "surrogate" in msg["data"]["message"] and "truncated" not in msg["data"]["message"], msg
        await assert_usable(ws)


OVERSIZED = [
    ("oversized", json.dumps({"type": "ping", "data": {"pad": BIG}})),
    ("oversized in bytes, not characters", json.dumps({"type": "ping", "data": {"pad": WIDE}}, ensure_ascii=False)),
    ("a 4 MiB frame", json.dumps({"type": "ping", "data": {"pad": "y" * (4 << 20)}})),
]


@pytest.mark.parametrize("name,frame", OVERSIZED, ids=[c[0] for c in OVERSIZED])
async def test_a_frame_over_the_message_limit_closes_with_1009(api, http, name, frame):
    """The server's frame-size limit is the protocol's: a bigger frame is refused
    as it arrives (close 1009, message too big), never read whole first."""
    me = await signup(http)
    async with connect(api, me) as ws:
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(frame)
        assert await closed_code(ws) == 1009
    async with connect(api, me) as ws:  # just under the limit is still a message
        pad = "z" * (proto.MAX_MESSAGE_BYTES - len(json.dumps({"type": "ping", "data": {"pad": ""}, "id": "max"})))
        await send(ws, "ping", {"pad": pad}, "max")
        assert (await recv(ws))["data"] == {"pad": pad}


async def test_many_errors_in_a_row_leave_the_connection_open(api, http):
    me = await signup(http)
    async with connect(api, me) as ws:
        for _, frame, code, _ in BAD_MESSAGES:
            await ws.send(frame)
            assert (await recv(ws))["data"]["code"] == code
        await assert_usable(ws)


# --- subscriptions -------------------------------------------------------------


async def test_subscribe_to_unknown_or_foreign_video_is_not_found(api, http, stores):
    me, other = await signup(http), await signup(http)
    theirs = await queued_job(stores, other)
    async with connect(api, me) as ws:
        for i, video_id in enumerate([theirs.id, "video_01jzzzzzzzzzzzzzzzzzzzzzzz", "nonsense"]):
            await send(ws, "subscribe", {"video_id": video_id}, f"s{i}")
            msg = await recv(ws)
            assert msg["type"] == "error" and msg["data"]["code"] == "video_not_found" and msg["id"] == f"s{i}", msg
        await assert_usable(ws)


async def follow_to_the_end(ws) -> list[dict]:
    """Messages until the final ``video`` message of a subscription."""
    got = []
    while True:
        msg = await recv(ws)
        got.append(msg)
        if msg["type"] == "video" and msg["data"]["status"] in jobs.TERMINAL:
            return got
        assert msg["type"] != "error", msg


async def test_subscribe_to_a_job_and_follow_it_to_completion(api, http, stores, worker):
    me = await signup(http)
    job = await queued_job(stores, me)
    async with connect(api, me) as ws:
        await send(ws, "subscribe", {"video_id": job.id}, "sub")
        assert await recv(ws) == {"type": "subscribed", "data": {"video_id": job.id}, "id": "sub"}
        first = await recv(ws)
        assert first["type"] == "video" and first["data"]["id"] == job.id and first["data"]["status"] == "queued"

        await queue.enqueue(stores, job.id)  # only now can the worker start it
        got = await follow_to_the_end(ws)
        progress = [m["data"] for m in got if m["type"] == "progress"]
        assert [p["step"] for p in progress] == list(range(1, 5)), progress
        assert all(p["steps"] == 4 and p["video_id"] == job.id and 0 < p["progress"] < 100 for p in progress)
        assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
        statuses = [m["data"]["status"] for m in got if m["type"] == "status"]
        assert statuses == ["in_progress", "completed"], statuses
        final = got[-1]["data"]
        assert final["status"] == "completed" and final["progress"] == 100 and final["frames"] == 9 and final["error"] is None
        kinds = [m["type"] for m in got]
        last_progress = len(kinds) - 1 - kinds[::-1].index("progress")
        completed_status = next(i for i, m in enumerate(got) if m["type"] == "status" and m["data"]["status"] == "completed")
        assert last_progress < completed_status < len(got) - 1, kinds
        await assert_usable(ws)  # the subscription ended cleanly


async def test_two_connections_follow_one_job(api, http, stores, worker):
    me = await signup(http)
    job = await queued_job(stores, me)
    async with connect(api, me) as one, connect(api, me, via="query") as two:
        for ws in (one, two):
            await send(ws, "subscribe", {"video_id": job.id})
            assert (await recv(ws))["type"] == "subscribed"
            assert (await recv(ws))["data"]["status"] == "queued"
        await queue.enqueue(stores, job.id)
        finals = await asyncio.gather(follow_to_the_end(one), follow_to_the_end(two))
        for got in finals:
            assert got[-1]["data"]["status"] == "completed"
            assert [m["data"]["step"] for m in got if m["type"] == "progress"] == [1, 2, 3, 4]


async def test_a_late_joiner_gets_the_completed_video_at_once(api, http, worker):
    me = await signup(http)
    [vid] = await completed_videos(http, me, 1)
    async with connect(api, me) as ws:
        await send(ws, "subscribe", {"video_id": vid}, "late")
        assert await recv(ws) == {"type": "subscribed", "data": {"video_id": vid}, "id": "late"}
        final = await recv(ws)
        assert final["type"] == "video" and final["data"]["id"] == vid
        assert final["data"]["status"] == "completed" and final["data"]["progress"] == 100
        await assert_usable(ws)  # nothing else follows


async def test_a_failed_job_ends_the_subscription_with_its_error(api, http, stores):
    me = await signup(http)
    job = await queued_job(stores, me)
    async with connect(api, me) as ws:
        await send(ws, "subscribe", {"video_id": job.id})
        assert (await recv(ws))["type"] == "subscribed"
        assert (await recv(ws))["data"]["status"] == "queued"
        # what a worker does when generation fails
        await jobs.fail(stores, job.id, "generation_failed", "out of memory")
        await events.publish(
            stores,
            JobEvent(type="status", video_id=job.id, status="failed", error={"code": "generation_failed", "message": "out of memory"}),
        )
        got = await follow_to_the_end(ws)
        assert got[-1]["data"]["status"] == "failed"
        assert got[-1]["data"]["error"] == {"code": "generation_failed", "message": "out of memory"}
        await assert_usable(ws)


async def test_unsubscribe_stops_the_events(api, http, stores, worker):
    me = await signup(http)
    job = await queued_job(stores, me)
    async with connect(api, me) as ws:
        await send(ws, "subscribe", {"video_id": job.id})
        assert (await recv(ws))["type"] == "subscribed"
        assert (await recv(ws))["data"]["status"] == "queued"
        await send(ws, "unsubscribe", {"video_id": job.id}, "u")
        assert await recv(ws) == {"type": "unsubscribed", "data": {"video_id": job.id}, "id": "u"}

        await queue.enqueue(stores, job.id)

        async def finished():
            return (await jobs.get_job(stores, job.id)).status == "completed"

        await poll(finished, what=f"{job.id} to complete")
        await assert_usable(ws)  # no progress, status or video message arrived in between


async def test_another_users_unsubscribe_changes_nothing_for_the_owner(api, http, stores, worker):
    """``unsubscribe`` only touches the sender's own subscriptions: another
    user naming my video is answered as for any video it does not follow,
    and my socket still gets every step and the end."""
    me, other = await signup(http), await signup(http)
    job = await queued_job(stores, me)
    async with connect(api, me) as mine, connect(api, other) as theirs:
        await send(mine, "subscribe", {"video_id": job.id})
        assert (await recv(mine))["type"] == "subscribed"
        assert (await recv(mine))["data"]["status"] == "queued"
        await send(theirs, "subscribe", {"video_id": job.id}, "s")
        assert (await recv(theirs))["data"]["code"] == "video_not_found"
        await send(theirs, "unsubscribe", {"video_id": job.id}, "u")
        assert await recv(theirs) == {"type": "unsubscribed", "data": {"video_id": job.id}, "id": "u"}
        await queue.enqueue(stores, job.id)
        got = await follow_to_the_end(mine)
        assert [m["data"]["step"] for m in got if m["type"] == "progress"] == [1, 2, 3, 4]
        assert got[-1]["data"]["status"] == "completed"
        await assert_usable(theirs)  # and the other socket heard nothing of it


async def test_subscribing_again_at_once_replays_the_jobs_events(api, http, stores):
    """Unsubscribed and subscribed again while the job runs, a connection gets
    the recent events again, as a first subscription does; so does a second
    connection after it. The reader's read in flight still covered the old
    subscription, and its entries went to the new one in place of the replay."""
    me = await signup(http)
    job = await queued_job(stores, me)

    async def step(n: int) -> None:
        await events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", step=n, steps=8, progress=n * 100 // 8))

    async with connect(api, me) as ws:
        await send(ws, "subscribe", {"video_id": job.id})
        assert [(await recv(ws))["type"] for _ in range(2)] == ["subscribed", "video"]
        await events.publish(stores, JobEvent(type="status", video_id=job.id, status="in_progress", progress=0))
        for n in (1, 2, 3):
            await step(n)
        got = [await recv(ws) for _ in range(4)]
        assert [m["data"].get("step") for m in got] == [None, 1, 2, 3]
        for attempt in range(3):  # the race is the read in flight: a step lands while it still covers the old subscription
            await send(ws, "unsubscribe", {"video_id": job.id}, "u")
            assert (await recv(ws))["type"] == "unsubscribed"
            await send(ws, "subscribe", {"video_id": job.id}, "s")
            assert [(await recv(ws))["type"] for _ in range(2)] == ["subscribed", "video"]  # following again
            await step(4 + attempt)
            replay = [await recv(ws) for _ in range(1 + 4 + attempt)]
            assert [m["data"].get("step") for m in replay] == [None, *range(1, 5 + attempt)], replay
        async with connect(api, me) as second:
            await send(second, "subscribe", {"video_id": job.id})
            replay = [await recv(second) for _ in range(2 + 1 + 6)]
            assert [m["data"].get("step") for m in replay[2:]] == [None, 1, 2, 3, 4, 5, 6], replay


async def test_subscribing_twice_follows_once(api, http, stores, worker):
    me = await signup(http)
    job = await queued_job(stores, me)
    async with connect(api, me) as ws:
        for tag in ("a", "b"):
            await send(ws, "subscribe", {"video_id": job.id}, tag)
            assert (await recv(ws))["id"] == tag
            if tag == "a":
                assert (await recv(ws))["type"] == "video"
        await queue.enqueue(stores, job.id)
        got = await follow_to_the_end(ws)
        assert [m["data"]["step"] for m in got if m["type"] == "progress"] == [1, 2, 3, 4]
        await assert_usable(ws)


async def test_create_over_http_and_watch_with_query_token(api, http, worker):
    """The way a browser does it: create over HTTP, watch with ?token=."""
    me = await signup(http)
    r = await http.post("/v1/videos", json={"prompt": "a lantern in the rain", **FAST}, headers=me["headers"])
    assert r.status_code == 200, r.text
    vid = r.json()["id"]
    async with connect(api, me, via="query") as ws:
        await send(ws, "subscribe", {"video_id": vid})
        assert (await recv(ws))["type"] == "subscribed"
        got = await follow_to_the_end(ws)
        assert got[-1]["data"]["status"] == "completed" and got[-1]["data"]["id"] == vid


async def test_a_sender_that_fails_ends_the_read_it_waits_in(stores):
    """The read loop waits for the next frame in its own task; when the sender
    stops first (a send failed) the read is interrupted and the connection ends.
    A socket whose sends fail while its reads block cannot be made on demand
    with a real client, so this one stands in for it."""
    from accounts.users import User
    from server.ws.connection import Connection, serve

    class FailingSocket:
        def __init__(self) -> None:
            self.never = asyncio.Event()

        async def receive(self) -> dict:
            await self.never.wait()
            return {"type": "websocket.disconnect"}

        async def send_data(self, payload, mode="text") -> None:
            raise ConnectionResetError("the client went away")

        async def close(self, code: int = 1000, reason: str = "") -> None:
            return None

    user = User(id="user_x", handle="x", created_at=0)
    conn = Connection(FailingSocket(), stores, user, {})  # type: ignore[arg-type]
    served = asyncio.create_task(serve(conn))
    await asyncio.sleep(0.05)
    assert not served.done()  # reading, nothing sent yet
    conn.send(proto.out("hello", {}))
    await asyncio.wait_for(served, 5)  # the failed send ended the read: serve returned, not cancelled
    assert not served.cancelled() and served.exception() is None


async def test_a_handler_that_fails_answers_internal_error_and_the_connection_goes_on(stores):
    """A fault of the server's own in one message's handler answers that message
    with ``internal_error`` (its id) and leaves the connection serving: no 4500
    close. No real message type fails on demand, so the handler table here has
    one that does, beside a working one."""
    from accounts.users import User
    from server.ws.connection import Connection

    async def broken(conn, msg) -> None:
        raise KeyError("a row that was there a moment ago")

    async def echo(conn, msg) -> None:
        conn.send(proto.out("echo", msg.data, msg.id))

    user = User(id="user_" + uuid.uuid4().hex[:10], handle="h", created_at=0)
    conn = Connection(object(), stores, user, {"broken": broken, "echo": echo})  # type: ignore[arg-type]
    await conn.handle(json.dumps({"type": "broken", "data": {}, "id": "m1"}))
    await conn.handle(json.dumps({"type": "echo", "data": {"n": 2}, "id": "m2"}))
    sent = [json.loads(conn.outbox.get_nowait()[1]) for _ in range(conn.outbox.qsize())]
    assert [m["type"] for m in sent] == ["error", "echo"]
    assert sent[0]["data"]["code"] == "internal_error" and sent[0]["id"] == "m1"
    assert sent[1] == {"type": "echo", "data": {"n": 2}, "id": "m2"}
