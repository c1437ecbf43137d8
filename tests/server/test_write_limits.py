"""The limits on writes that cost others something, each per user and each a
setting (docs/API.md): likes, follows and blocks, cameo recordings and cameo
changes; and the videos limit taken before an upload is decoded. An api of
its own runs with small limits."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import signup
from tests.feed.test_social import new_post
from tests.feed.test_feed_stream import open_feed, until
from tests.procs import start_api
from tests.server.test_ws import assert_usable, connect, recv, send

NOT_A_VIDEO = ("clip.mp4", b"\x00\x00\x00\x18ftypisom but nothing more", "video/mp4")
UNISSUED_CHALLENGE = "chal_" + "0" * 26


@pytest.fixture(scope="module")
def tight_api(settings, tmp_root):
    proc = start_api(
        settings,
        tmp_root / "logs-write-limits",
        FABULA_RATE_VIDEOS="1/1h",
        FABULA_RATE_LIKES="4/1h",
        FABULA_RATE_FOLLOWS="3/1h",
        FABULA_RATE_CAMEO_UPLOADS="2/1h",
        FABULA_RATE_CAMEO_EDITS="2/1h",
    )
    yield proc
    proc.stop()


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    """The project's error body (the Videos API's adds OpenAI's ``type`` and ``param``)."""
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"], err
    return err


def limited(r: httpx.Response, limit: str) -> None:
    err = assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0 and err["details"]["limit"] == limit, err


async def test_an_extension_upload_counts_before_it_is_decoded(tight_api):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        me, other = await signup(http), await signup(http)
        first = await http.post("/v1/videos/extensions", data={"prompt": "and on", "seconds": "1"}, files={"video": NOT_A_VIDEO}, headers=me["headers"])
        assert_error(first, 400, "invalid_video")  # decoded, refused, and counted
        # over the limit, the next upload is refused before it is decoded
        limited(await http.post("/v1/videos/extensions", data={"prompt": "and on", "seconds": "1"}, files={"video": NOT_A_VIDEO}, headers=me["headers"]), "videos:user")
        # per user
        assert_error(await http.post("/v1/videos/extensions", data={"prompt": "and on", "seconds": "1"}, files={"video": NOT_A_VIDEO}, headers=other["headers"]), 400, "invalid_video")


async def test_likes_are_limited_and_a_like_loop_alerts_once(tight_api, stores):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        author, fan = await signup(http), await signup(http)
        post = await new_post(http, stores, author)
        url = f"/v1/posts/{post['id']}/like"
        for call in (http.post, http.delete, http.post):  # like, unlike, like again
            r = await call(url, headers=fan["headers"])
            assert r.status_code == 200, r.text
        notes = (await http.get("/v1/notifications", headers=author["headers"])).json()
        likes = [n for n in notes["data"] if n["kind"] == "like"]
        # the inbox says the fan likes the post; the like given again is not a second alert
        assert len(likes) == 1 and likes[0]["read"] is True, likes
        assert notes["unread_count"] == 0, notes
        assert (await http.delete(url, headers=fan["headers"])).status_code == 200  # the 4th
        limited(await http.post(url, headers=fan["headers"]), "likes:user")
        assert (await http.post(url, headers=author["headers"])).status_code == 200  # another user's bucket


async def test_a_first_like_alerts_the_author(tight_api, stores):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        author, fan = await signup(http), await signup(http)
        post = await new_post(http, stores, author)
        assert (await http.post(f"/v1/posts/{post['id']}/like", headers=fan["headers"])).status_code == 200
        notes = (await http.get("/v1/notifications", headers=author["headers"])).json()
        assert [(n["kind"], n["read"]) for n in notes["data"]] == [("like", False)] and notes["unread_count"] == 1, notes


async def test_likes_over_the_feed_socket_share_the_limit(tight_api, stores):
    """A ``like`` event is a like as ``POST /v1/posts/{id}/like`` is: it takes from
    the same bucket, and past it the event's ``error`` (with its id, the wait and
    the limit) comes in place of its ``feed.ack``; the post is not liked."""
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        author, fan = await signup(http), await signup(http)
        older, newer = await new_post(http, stores, author), await new_post(http, stores, author)
        assert (await http.post(f"/v1/users/{author['user']['handle']}/follow", headers=fan["headers"])).status_code == 200
        async with connect(tight_api, fan) as ws:
            session, items, _ = await open_feed(ws, kind="following", window=2)
            sid = session["session_id"]
            assert [i["id"] for i in items] == [newer["id"], older["id"]]
            await send(ws, "feed.event", {"session_id": sid, "post_id": newer["id"], "event": "like"}, "l1")
            ack = await until(ws, "feed.ack")
            assert ack["id"] == "l1" and ack["data"]["event"] == "like"
            for call in (http.delete, http.post, http.delete):  # the bucket's 2nd, 3rd and 4th
                assert (await call(f"/v1/posts/{newer['id']}/like", headers=fan["headers"])).status_code == 200
            await send(ws, "feed.event", {"session_id": sid, "post_id": older["id"], "event": "like"}, "l2")
            refused = await recv(ws)
            while refused["type"] in ("feed.items", "feed.counts"):
                refused = await recv(ws)
            assert refused["type"] == "error" and refused["id"] == "l2", refused
            data = refused["data"]
            assert data["code"] == "rate_limited" and data["limit"] == "likes:user" and data["retry_after_s"] > 0 and data["message"], data
            await assert_usable(ws)
        seen = (await http.get(f"/v1/posts/{older['id']}", headers=fan["headers"])).json()
        assert seen["liked"] is False and seen["counts"]["likes"] == 0, seen
        limited(await http.post(f"/v1/posts/{older['id']}/like", headers=fan["headers"]), "likes:user")  # the same bucket


async def test_follows_and_blocks_share_one_limit(tight_api):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        me, a, b = await signup(http), await signup(http), await signup(http)
        # refusals take nothing: following or blocking oneself, an unknown handle, following someone one blocks
        other = await signup(http)
        assert (await http.post(f"/v1/users/{other['user']['handle']}/block", headers=a["headers"])).status_code == 200  # a's first
        for _ in range(4):
            assert_error(await http.post(f"/v1/users/{me['user']['handle']}/follow", headers=me["headers"]), 400, "self_follow")
            assert_error(await http.post(f"/v1/users/{me['user']['handle']}/block", headers=me["headers"]), 400, "self_block")
            assert_error(await http.post("/v1/users/nobody_here_at_all/follow", headers=me["headers"]), 404, "user_not_found")
            assert_error(await http.delete(f"/v1/me/followers/nobody_here_at_all", headers=me["headers"]), 404, "user_not_found")
            assert_error(await http.post(f"/v1/users/{other['user']['handle']}/follow", headers=a["headers"]), 403, "blocked")
        assert (await http.post(f"/v1/users/{a['user']['handle']}/follow", headers=me["headers"])).status_code == 200
        assert (await http.delete(f"/v1/users/{a['user']['handle']}/follow", headers=me["headers"])).status_code == 200
        assert (await http.post(f"/v1/users/{b['user']['handle']}/block", headers=me["headers"])).status_code == 200
        limited(await http.delete(f"/v1/users/{b['user']['handle']}/block", headers=me["headers"]), "follows:user")
        limited(await http.post(f"/v1/users/{a['user']['handle']}/follow", headers=me["headers"]), "follows:user")
        # nothing was written by the refused calls: b is still blocked, a not followed
        assert (await http.get(f"/v1/users/{b['user']['handle']}", headers=me["headers"])).status_code == 404  # across the block
        following = (await http.get(f"/v1/users/{me['user']['handle']}/following", headers=me["headers"])).json()
        assert following["data"] == [], following
        assert (await http.post(f"/v1/users/{me['user']['handle']}/follow", headers=a["headers"])).status_code == 200


async def test_a_recording_with_an_unissued_challenge_is_refused_before_it_is_analysed(tight_api):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        me = await signup(http)
        # not a video at all: analysed first, this would be 422 invalid_recording
        r = await http.post("/v1/cameos", data={"challenge_id": UNISSUED_CHALLENGE}, files={"video": NOT_A_VIDEO}, headers=me["headers"])
        assert_error(r, 410, "challenge_expired")
        r = await http.post(
            "/v1/videos/characters", data={"name": "Pip", "challenge_id": UNISSUED_CHALLENGE}, files={"video": NOT_A_VIDEO}, headers=me["headers"]
        )
        assert_error(r, 410, "challenge_expired")
        # every attempt counted: the third recording is refused before its body is read
        limited(await http.post("/v1/cameos", data={"challenge_id": UNISSUED_CHALLENGE}, files={"video": NOT_A_VIDEO}, headers=me["headers"]), "cameo-uploads:user")


async def test_cameo_changes_are_limited(tight_api):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=60) as http:
        me = await signup(http)
        for _ in range(2):
            assert_error(await http.patch("/v1/cameos/cameo_unknown", json={"paused": True}, headers=me["headers"]), 404, "cameo_not_found")
        limited(await http.patch("/v1/cameos/cameo_unknown", json={"paused": True}, headers=me["headers"]), "cameo-edits:user")


def multipart(fields: dict[str, str], file: tuple[str, bytes, str], boundary: str = "fabulaboundary") -> tuple[bytes, str]:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    name, data, kind = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="{name}"\r\nContent-Type: {kind}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def test_one_person_cannot_hold_every_recording_slot(settings, tmp_root):
    """Two recordings of one user in flight (their bodies still arriving): a third is
    429 ``recording_in_progress`` at once, while another user's goes through."""
    import asyncio

    api = start_api(settings, tmp_root / "logs-upload-slots")
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
            me, other = await signup(http), await signup(http)
            body, content_type = multipart({"challenge_id": UNISSUED_CHALLENGE}, NOT_A_VIDEO)
            go = asyncio.Event()

            async def slow_body():
                yield body[:40]
                await go.wait()  # the rest arrives when the test says so
                yield body[40:]

            async def held_upload():
                return await http.post("/v1/cameos", content=slow_body(), headers={**me["headers"], "content-type": content_type})

            held = [asyncio.create_task(held_upload()) for _ in range(2)]
            await asyncio.sleep(1.0)  # both are in the route, reading their bodies
            third = await http.post("/v1/cameos", content=body, headers={**me["headers"], "content-type": content_type})
            err = assert_error(third, 429, "recording_in_progress")
            assert int(third.headers["Retry-After"]) > 0, err
            theirs = await http.post("/v1/cameos", content=body, headers={**other["headers"], "content-type": content_type})
            assert_error(theirs, 410, "challenge_expired")
            go.set()
            for answer in await asyncio.gather(*held):
                assert_error(answer, 410, "challenge_expired")
            # the slots are free again
            again = await http.post("/v1/cameos", content=body, headers={**me["headers"], "content-type": content_type})
            assert_error(again, 410, "challenge_expired")
    finally:
        api.stop()
