"""Counters and notifications cannot be inflated: a view counts once per
viewer and post in the window (over HTTP and on the swipe stream alike), a
view's watch time at most the clip's length, a follow undone and made again
notifies once, and ``remix_of`` must be the post of the video a remix was
made from."""

from __future__ import annotations

import asyncio

from feed.social import views
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_posts_feed import follow
from tests.feed.test_social import new_post, ready_video
from tests.server.test_ws import connect, recv, send

HOUR_MS = 3_600_000


async def post_doc(stores, post_id: str) -> dict:
    return await stores.db.posts.find_one({"_id": post_id}, {"views": 1, "watch_ms": 1, "completes": 1, "duration_ms": 1})


async def until(check, what: str, timeout: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return found


async def test_a_view_counts_once_per_viewer_and_watch_time_at_most_the_clip(http, stores):
    author, viewer, other = await signup(http), await signup(http), await signup(http)
    post = await new_post(http, stores, author)  # a 1 s clip (tests.feed.test_social.ready_video)
    assert (await post_doc(stores, post["id"]))["duration_ms"] == 1000
    for _ in range(5):
        r = await http.post(f"/v1/posts/{post['id']}/view", json={"watch_ms": HOUR_MS, "completed": True}, headers=viewer["headers"])
        assert r.status_code == 200 and r.json()["views"] == 1, r.text
    r = await http.post(f"/v1/posts/{post['id']}/view", json={"watch_ms": 400}, headers=other["headers"])
    assert r.json()["views"] == 2
    doc = await post_doc(stores, post["id"])
    assert (doc["views"], doc["watch_ms"], doc["completes"]) == (2, 1000 + 400, 1)
    # the window passing counts the next view again
    await stores.redis.delete(views.once_key(stores, viewer["user"]["id"], post["id"]))
    r = await http.post(f"/v1/posts/{post['id']}/view", json={"watch_ms": 10}, headers=viewer["headers"])
    assert r.json()["views"] == 3


async def test_an_old_post_without_its_length_is_capped_by_its_video(http, stores):
    author, viewer = await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    await stores.db.posts.update_one({"_id": post["id"]}, {"$unset": {"duration_ms": ""}})
    await http.post(f"/v1/posts/{post['id']}/view", json={"watch_ms": HOUR_MS}, headers=viewer["headers"])
    assert (await post_doc(stores, post["id"]))["watch_ms"] == 1000


async def next_of(ws, type_: str) -> dict:
    while (msg := await recv(ws))["type"] != type_:
        assert msg["type"] != "error", msg
    return msg


async def test_stream_views_count_once_too(api, http, stores):
    author, viewer = await signup(http), await signup(http)
    await follow(http, viewer, author)
    post = await new_post(http, stores, author)
    async with connect(api, viewer) as ws:
        for n in range(2):  # two sessions serve the post: its views count once, capped at the clip
            await send(ws, "feed.open", {"kind": "following", "window": 1}, f"o{n}")
            session = await next_of(ws, "feed.session")
            items = await next_of(ws, "feed.items")
            assert items["data"]["items"][0]["id"] == post["id"], items
            sid = session["data"]["session_id"]
            await send(ws, "feed.event", {"session_id": sid, "post_id": post["id"], "event": "complete", "watch_ms": HOUR_MS}, f"e{n}")
            await next_of(ws, "feed.ack")

            async def counted():
                return (await post_doc(stores, post["id"]))["views"] == 1

            await until(counted, "the stream's view to be written")
    await asyncio.sleep(0.5)  # two view batches (feed.social.view_batches): a second count would have landed
    doc = await post_doc(stores, post["id"])
    assert (doc["views"], doc["watch_ms"]) == (1, 1000)
    r = await http.post(f"/v1/posts/{post['id']}/view", json={"watch_ms": 500}, headers=viewer["headers"])
    assert r.json()["views"] == 1  # the stream's view holds the window for HTTP as well


async def follow_notes(stores, recipient: dict, actor: dict) -> int:
    return await stores.db.notifications.count_documents(
        {"recipient_id": recipient["user"]["id"], "actor_id": actor["user"]["id"], "kind": "follow"}
    )


async def test_following_again_does_not_notify_again(http, stores):
    a, b = await signup(http), await signup(http)
    for _ in range(4):
        r = await http.post(f"/v1/users/{b['user']['handle']}/follow", headers=a["headers"])
        assert r.status_code == 200 and r.json()["following"] is True
        r = await http.delete(f"/v1/users/{b['user']['handle']}/follow", headers=a["headers"])
        assert r.status_code == 200 and r.json()["following"] is False
    assert await follow_notes(stores, b, a) == 1
    unread = await http.get("/v1/notifications", headers=b["headers"])
    assert [n["kind"] for n in unread.json()["data"]].count("follow") == 1


async def test_remix_of_must_be_the_post_the_video_was_remixed_from(http, stores):
    author, remixer = await signup(http), await signup(http)
    source = await new_post(http, stores, author, caption="the original")
    unrelated = await new_post(http, stores, author, caption="another post")
    remix_vid = await ready_video(stores, remixer, remixed_from=source["video_id"])
    r = await http.post("/v1/posts", json={"video_id": remix_vid, "remix_of": unrelated["id"]}, headers=remixer["headers"])
    assert_error(r, 400, "not_remix_source")
    assert await stores.db.posts.count_documents({"video_id": remix_vid}) == 0
    plain = await ready_video(stores, remixer)
    r = await http.post("/v1/posts", json={"video_id": plain, "remix_of": source["id"]}, headers=remixer["headers"])
    assert_error(r, 400, "not_a_remix")
    r = await http.post("/v1/posts", json={"video_id": remix_vid, "remix_of": source["id"]}, headers=remixer["headers"])
    assert r.status_code == 201 and r.json()["remix_of"] == source["id"], r.text
    assert (await http.get(f"/v1/posts/{unrelated['id']}", headers=author["headers"])).json()["counts"]["remixes"] == 0
    assert (await http.get(f"/v1/posts/{source['id']}", headers=author["headers"])).json()["counts"]["remixes"] == 1


async def test_stream_caps_each_views_watch_time_at_its_own_clip(api, http, stores):
    """The stream notes each served item's clip length by its place in the
    session (``server.ws.served_notes``): several items with different
    lengths, viewed out of order, are each capped at their own."""
    author, viewer = await signup(http), await signup(http)
    await follow(http, viewer, author)
    lengths = [1000, 2500, 4000]
    made = []
    for length in lengths:
        post = await new_post(http, stores, author)
        await stores.db.posts.update_one({"_id": post["id"]}, {"$set": {"duration_ms": length}})
        made.append(post["id"])
    async with connect(api, viewer) as ws:
        await send(ws, "feed.open", {"kind": "following", "window": 3}, "o")
        sid = (await next_of(ws, "feed.session"))["data"]["session_id"]
        served = [item["id"] for item in (await next_of(ws, "feed.items"))["data"]["items"]]
        assert sorted(served) == sorted(made)
        for n, pid in enumerate(reversed(served)):
            await send(ws, "feed.event", {"session_id": sid, "post_id": pid, "event": "complete", "watch_ms": HOUR_MS}, f"e{n}")
            await next_of(ws, "feed.ack")
        # the same items viewed again on the connection: not counted again
        await send(ws, "feed.event", {"session_id": sid, "post_id": served[0], "event": "view", "watch_ms": HOUR_MS}, "again")
        await next_of(ws, "feed.ack")

        async def all_counted():
            return all(d.get("views") == 1 for d in [await post_doc(stores, pid) for pid in made])

        await until(all_counted, "the stream's views to be written")
    await asyncio.sleep(0.5)  # two view batches: a second count would have landed
    docs = [await post_doc(stores, pid) for pid in made]
    assert [(d["views"], d["watch_ms"], d["completes"]) for d in docs] == [(1, length, 1) for length in lengths]
