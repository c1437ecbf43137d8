"""Notifications: what makes one (like, comment, reply, follow, remix), the
list with its unread count, marking read, and live delivery over the
WebSocket, through one api process and across two."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest

from tests.conftest import signup
from tests.procs import start_api
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_posts_feed import follow
from tests.feed.test_social import block, comment, new_post
from tests.server.test_ws import WAIT, connect, send


async def notes(http: httpx.AsyncClient, user: dict, **params) -> dict:
    r = await http.get("/v1/notifications", params=params, headers=user["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    return body


async def next_of_type(ws, type_: str) -> dict:
    """The next message of ``type_``, skipping others, within WAIT seconds."""

    async def read():
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == type_:
                return msg

    return await asyncio.wait_for(read(), WAIT)


async def nothing_more(ws) -> None:
    """No message is queued: a ping's pong is the very next one."""
    await send(ws, "ping", {}, "quiet?")
    assert json.loads(await asyncio.wait_for(ws.recv(), WAIT)) == {"type": "pong", "data": {}, "id": "quiet?"}


async def test_each_kind_is_stored_for_its_recipient(http, stores):
    author, alice, bob = await signup(http), await signup(http), await signup(http)
    post = await new_post(http, stores, author, "notify me")
    pid = post["id"]

    await follow(http, alice, author)
    await http.post(f"/v1/posts/{pid}/like", headers=alice["headers"])
    top = (await comment(http, alice, pid, "great")).json()
    reply = (await comment(http, bob, pid, "agreed", reply_to=top["id"])).json()
    remix = await new_post(http, stores, bob, remixed_from=post["video_id"])

    body = await notes(http, author)
    got = [(n["kind"], n["actor"]["id"], n["post_id"], n["comment_id"]) for n in body["data"]]
    assert got == [
        ("remix", bob["user"]["id"], remix["id"], None),
        ("comment", bob["user"]["id"], pid, reply["id"]),  # a reply on my post tells me too
        ("comment", alice["user"]["id"], pid, top["id"]),
        ("like", alice["user"]["id"], pid, None),
        ("follow", alice["user"]["id"], None, None),
    ]
    assert body["unread_count"] == 5 and not any(n["read"] for n in body["data"])
    assert all(n["object"] == "notification" and isinstance(n["created_at"], int) for n in body["data"])
    assert body["data"][0]["actor"] == {k: bob["user"][k] for k in ("id", "handle", "display_name", "avatar_url")}

    alices = await notes(http, alice)
    assert [(n["kind"], n["actor"]["id"], n["comment_id"]) for n in alices["data"]] == [("reply", bob["user"]["id"], reply["id"])]

    # my own actions notify nobody; repeated follows and likes add nothing
    await http.post(f"/v1/posts/{pid}/like", headers=author["headers"])
    await comment(http, author, pid, "thanks all")
    await follow(http, alice, author)
    await http.post(f"/v1/posts/{pid}/like", headers=alice["headers"])
    assert (await notes(http, author))["unread_count"] == 5


async def test_unlike_takes_the_like_back_and_a_relike_notifies_once(http, stores):
    author, fan = await signup(http), await signup(http)
    pid = (await new_post(http, stores, author))["id"]
    for _ in range(3):
        await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
        await http.delete(f"/v1/posts/{pid}/like", headers=fan["headers"])
    assert (await notes(http, author))["data"] == []
    await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
    assert [n["kind"] for n in (await notes(http, author))["data"]] == ["like"]


async def test_list_pages_and_mark_read(http, stores):
    me = await signup(http)
    others = [await signup(http) for _ in range(5)]
    for other in others:
        await follow(http, other, me)
    expected = [o["user"]["id"] for o in reversed(others)]
    for limit in (1, 2, 5, 20):
        seen, cursor = [], None
        while True:
            body = await notes(http, me, limit=limit, **({"cursor": cursor} if cursor else {}))
            assert len(body["data"]) <= limit and body["unread_count"] == 5
            seen += [n["actor"]["id"] for n in body["data"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, limit

    ids = [n["id"] for n in (await notes(http, me))["data"]]
    r = await http.post("/v1/notifications/read", json={"ids": ids[:2]}, headers=me["headers"])
    assert r.status_code == 200 and r.json() == {"marked": 2, "unread_count": 3}
    again = await http.post("/v1/notifications/read", json={"ids": ids[:2] + ["notif_01jzzzzzzzzzzzzzzzzzzzzzzz"]}, headers=me["headers"])
    assert again.json() == {"marked": 0, "unread_count": 3}
    assert [n["read"] for n in (await notes(http, me))["data"]] == [True, True, False, False, False]

    # someone else cannot mark mine
    stranger = others[0]
    r = await http.post("/v1/notifications/read", json={"ids": ids}, headers=stranger["headers"])
    assert r.json()["marked"] == 0 and (await notes(http, me))["unread_count"] == 3

    for body in ({}, {"ids": ids, "all": True}, {"all": False}, {"ids": "x"}, {"ids": [1]}, {"ids": ["x"] * 101}, {"all": True, "extra": 1}, {"ids": [""]}):
        assert_error(await http.post("/v1/notifications/read", json=body, headers=me["headers"]), 400)
    assert (await notes(http, me))["unread_count"] == 3
    r = await http.post("/v1/notifications/read", json={"all": True}, headers=me["headers"])
    assert r.json() == {"marked": 3, "unread_count": 0}

    for cursor in ("x", "post_01jzzzzzzzzzzzzzzzzzzzzzzz", "notif_" + "!" * 26):
        assert_error(await http.get("/v1/notifications", params={"cursor": cursor}, headers=me["headers"]), 400, "invalid_cursor")
    assert_error(await http.get("/v1/notifications", params={"limit": 51}, headers=me["headers"]), 400)


async def test_a_block_removes_notifications_between_the_pair(http, stores):
    me, pest, friend = await signup(http), await signup(http), await signup(http)
    pid = (await new_post(http, stores, me))["id"]
    for user in (pest, friend):
        await follow(http, user, me)
        await http.post(f"/v1/posts/{pid}/like", headers=user["headers"])
    await block(http, me, pest)
    body = await notes(http, me)
    assert {n["actor"]["id"] for n in body["data"]} == {friend["user"]["id"]} and body["unread_count"] == 2


# --- live delivery ---------------------------------------------------------------------------


async def test_pushed_live_to_every_connection_of_the_recipient(http, stores, api):
    author, fan, bystander = await signup(http), await signup(http), await signup(http)
    pid = (await new_post(http, stores, author))["id"]
    async with connect(api, author) as first, connect(api, author, via="query") as second, connect(api, bystander) as other:
        await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
        for ws in (first, second):
            msg = await next_of_type(ws, "notification")
            data = msg["data"]
            assert data["kind"] == "like" and data["post_id"] == pid and data["actor"]["id"] == fan["user"]["id"]
            assert data["read"] is False and data["object"] == "notification"
            assert data["id"] == (await notes(http, author))["data"][0]["id"]

        top = (await comment(http, fan, pid, "live!")).json()
        await follow(http, fan, author)
        kinds = [(await next_of_type(first, "notification"))["data"] for _ in range(2)]
        assert [(k["kind"], k["comment_id"]) for k in kinds] == [("comment", top["id"]), ("follow", None)]
        await nothing_more(other)  # nothing for anyone else

        # marking read over the socket
        await send(first, "notifications_read", {"all": True}, "r1")
        reply = await next_of_type(first, "notifications_read")
        assert reply == {"type": "notifications_read", "data": {"marked": 3, "unread_count": 0}, "id": "r1"}
        await send(first, "notifications_read", {"ids": "nope"}, "r2")
        err = await next_of_type(first, "error")
        assert err["data"]["code"] == "invalid_message" and err["id"] == "r2"
        await nothing_more(first)


async def test_another_users_notification_ids_over_the_socket_mark_nothing(http, stores, api):
    me, fan, other = await signup(http), await signup(http), await signup(http)
    pid = (await new_post(http, stores, me))["id"]
    await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
    await follow(http, fan, me)
    mine = await notes(http, me)
    ids = [n["id"] for n in mine["data"]]
    assert len(ids) == 2 and mine["unread_count"] == 2
    async with connect(api, other) as ws:
        await send(ws, "notifications_read", {"ids": ids}, "theirs")
        reply = await next_of_type(ws, "notifications_read")
        assert reply == {"type": "notifications_read", "data": {"marked": 0, "unread_count": 0}, "id": "theirs"}
    after = await notes(http, me)
    assert after["unread_count"] == 2 and [n["read"] for n in after["data"]] == [False, False]
    # the same message from their recipient marks them
    async with connect(api, me) as ws:
        await send(ws, "notifications_read", {"ids": ids}, "mine")
        reply = await next_of_type(ws, "notifications_read")
        assert reply == {"type": "notifications_read", "data": {"marked": 2, "unread_count": 0}, "id": "mine"}


async def test_a_closed_connection_stops_receiving_and_others_carry_on(http, stores, api):
    author, fan = await signup(http), await signup(http)
    pid = (await new_post(http, stores, author))["id"]
    async with connect(api, author) as stays:
        async with connect(api, author):
            pass  # opened and closed again
        await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
        assert (await next_of_type(stays, "notification"))["data"]["kind"] == "like"


@pytest.fixture(scope="module")
def second_api(settings, tmp_root, api):
    """Another api process on the same Mongo and Redis: a second replica."""
    proc = start_api(settings, tmp_root / "logs")
    yield proc
    proc.stop()


async def test_delivered_across_api_replicas(stores, api, second_api):
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as one, httpx.AsyncClient(base_url=second_api.url, timeout=30) as two:
        author, fan = await signup(one), await signup(one)
        pid = (await new_post(one, stores, author))["id"]
        async with contextlib.AsyncExitStack() as stack:
            on_one = await stack.enter_async_context(connect(api, author))
            on_two = await stack.enter_async_context(connect(second_api, author))
            # the like goes through replica two; both replicas push it
            r = await two.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
            assert r.status_code == 200, r.text
            for ws in (on_one, on_two):
                data = (await next_of_type(ws, "notification"))["data"]
                assert (data["kind"], data["post_id"], data["actor"]["id"]) == ("like", pid, fan["user"]["id"])
            # and a follow through replica one
            await follow(one, fan, author)
            for ws in (on_one, on_two):
                assert (await next_of_type(ws, "notification"))["data"]["kind"] == "follow"


async def test_live_delivery_takes_the_actors_profile_from_the_process_cache(http, stores, monkeypatch):
    """In process, on the hub itself: a recipient's live notifications from one
    actor read the actor's profile once, not once per notification."""
    from types import SimpleNamespace

    import msgspec

    from core.clock import utcnow
    from feed.live import runtime as feed_runtime
    from feed.social.notifications import Notification, Published
    from server.ws.notifications import Hub
    from tests.feed.test_author_cache import count_profile_reads

    author, fan = await signup(http), await signup(http)
    reads = count_profile_reads(monkeypatch)
    monkeypatch.setattr(feed_runtime, "_runtime", None)  # this test's own runtime, put back after
    recipient = author["user"]["id"]
    sent: list[bytes] = []
    hub = Hub(stores)
    class Receiver:  # the part of a connection the hub uses
        user = SimpleNamespace(id=recipient)
        send = staticmethod(sent.append)

    hub.connections[recipient] = {Receiver()}
    for i in range(3):
        note = Notification(id=f"notif_{i}", recipient_id=recipient, kind="follow", actor_id=fan["user"]["id"], created_at=utcnow())
        await hub._deliver(msgspec.json.encode(Published(recipient, note)))
    assert [json.loads(p)["data"]["actor"]["handle"] for p in sent] == [fan["user"]["handle"]] * 3
    assert reads == [[fan["user"]["id"]]]
