"""The Python client (``clients/fabula_client``) against a running api and
worker: every kind of route it covers, the socket's swipe sessions and
previews, and errors as ``FabulaAPIError``."""

from __future__ import annotations

import asyncio
import datetime
import io
import uuid

import pytest
from PIL import Image

from clients.fabula_client import FabulaAPIError, FabulaClient, PreviewFrame
from clients.sdk import FabulaClient as LegacyName
from gen import jobs, previews
from tests.cameos.capture import make_capture, quiet_room, tone_speech

PASSWORD = "correct horse battery"
WAIT = 240.0


def handle(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def cat_recording(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("sdk") / "cat.mp4"
    make_capture(str(path), moves=["left", "right"], audio=tone_speech(6.0), sample_rate=16000, variant="no_face", size=(320, 240))
    return path.read_bytes()


@pytest.fixture(scope="module")
def face_recording(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("sdk") / "face.mp4"  # a face that turns and says nothing
    make_capture(str(path), moves=["left", "right"], audio=quiet_room(6.0), sample_rate=16000, variant="live", size=(320, 240))
    return path.read_bytes()


async def test_the_old_import_name_is_the_same_client():
    assert LegacyName is FabulaClient


async def test_accounts_videos_posts_and_the_social_loop(api, worker):
    async with FabulaClient(api.url, timeout=120) as alice, FabulaClient(api.url, timeout=120) as bob:
        assert (await alice.health())["status"] == "ok"
        await alice.signup(handle("a"), PASSWORD, "1990-01-01")
        await bob.signup(handle("b"), PASSWORD, "1990-01-01")
        me = await alice.update_me(bio="boats and ponds")
        assert me["bio"] == "boats and ponds"
        followed = await bob.follow(me["handle"])
        assert followed["following"] is True
        assert [u["handle"] for u in (await alice.followers(me["handle"]))["data"]] == [(await bob.me())["handle"]]
        assert (await bob.following((await bob.me())["handle"]))["data"][0]["handle"] == me["handle"]
        rel = await alice.relationship((await bob.me())["handle"])
        assert (rel["followed_by"], rel["following"], rel["requested"]) == (True, False, False)

        video = await alice.create_video("a paper boat drifting on a pond", seconds=1, size="64x64")
        seen: list[str] = []
        done = await alice.wait_video(video["id"], timeout=WAIT, on_event=lambda m: seen.append(m["type"]))
        assert done["status"] == "completed" and "progress" in seen
        newest = await alice.preview(video["id"])
        assert isinstance(newest, PreviewFrame) and newest.step == newest.steps and newest.image[:3] == b"\xff\xd8\xff"
        assert (await alice.download(video["id"], "thumbnail"))[:3] == b"\xff\xd8\xff"
        assert [v["id"] for v in (await alice.videos(limit=5))["data"]][0] == video["id"]
        assert [d["id"] for d in (await alice.drafts())["data"]] == [video["id"]]

        # a remix, cancelled and deleted
        remix = await alice.remix(video["id"], "the same boat, at night")
        assert remix["remixed_from_video_id"] == video["id"]
        # pages() walks the Videos API's list too, on after/last_id: one a page, newest first
        assert [v["id"] async for v in alice.pages(alice.videos, limit=1)] == [remix["id"], video["id"]]
        with pytest.raises(FabulaAPIError) as too_late:
            await bob.remix(video["id"], "not mine")
        assert too_late.value.status == 404
        try:
            await alice.cancel_video(remix["id"])
        except FabulaAPIError as exc:
            assert exc.code == "video_finished"  # the worker was quicker
        assert (await alice.delete_video(remix["id"]))["deleted"] is True

        post = await alice.publish(video["id"], caption="boat day", visibility="public")
        assert (await bob.feed("following"))["data"][0]["id"] == post["id"]
        assert [p["id"] async for p in alice.pages(alice.user_posts, me["handle"], limit=1)] == [post["id"]]
        assert (await bob.post(post["id"]))["caption"] == "boat day"
        assert (await bob.shared_post(post["id"]))["id"] == post["id"]
        assert (await bob.post_content(post["id"], "thumbnail"))[:3] == b"\xff\xd8\xff"

        assert (await bob.like(post["id"]))["likes"] == 1
        comment = await bob.comment(post["id"], "lovely")
        reply = await alice.comment(post["id"], "thanks!", reply_to=comment["id"])
        assert [c["id"] for c in (await alice.comments(post["id"]))["data"]] == [comment["id"]]
        assert [r["id"] for r in (await bob.replies(comment["id"]))["data"]] == [reply["id"]]
        assert (await alice.delete_comment(reply["id"]))["deleted"] is True
        shared = await bob.share(post["id"])
        assert shared["post_id"] == post["id"] and shared["url"].endswith(f"/p/{post['id']}") and shared["shares"] == 1, shared
        assert (await bob.view(post["id"], 3000, completed=True))["post_id"] == post["id"]
        assert (await bob.remixes(post["id"]))["data"] == []
        assert (await bob.chain(post["id"]))["data"] == []
        kinds = {n["kind"] for n in (await alice.notifications())["data"]}
        assert {"like", "comment", "follow"} <= kinds
        with pytest.raises(FabulaAPIError) as neither:  # as the API says: ids or all
            await alice.read_notifications()
        assert neither.value.status == 400
        with pytest.raises(FabulaAPIError) as both:  # both is the server's 400 too, and marks nothing
            await alice.read_notifications(["notif_x"], all=True)
        assert both.value.status == 400 and (await alice.notifications())["unread_count"] >= 3
        assert (await alice.read_notifications([]))["marked"] == 0
        assert (await alice.read_notifications(all=True))["marked"] >= 3
        assert (await alice.notifications())["unread_count"] == 0
        assert (await bob.unlike(post["id"]))["likes"] == 0
        reported = await bob.report("post", post["id"], "spam", "testing the client")
        assert reported["reason"] == "spam"
        with pytest.raises(ValueError):
            await bob.report("video", video["id"], "spam")
        assert (await alice.follow_requests())["data"] == []  # a public account has none
        assert (await alice.remove_follower((await bob.me())["handle"]))["followed_by"] is False
        assert (await alice.update_post(post["id"], caption="boat day!"))["caption"] == "boat day!"

        blocked = await alice.block((await bob.me())["handle"])
        assert blocked["blocking"] is True
        with pytest.raises(FabulaAPIError) as hidden:
            await bob.post(post["id"])
        assert hidden.value.status == 404
        assert [u["handle"] for u in (await alice.blocks())["data"]] == [(await bob.me())["handle"]]
        await alice.unblock((await bob.me())["handle"])
        assert (await alice.blocks(limit=5))["data"] == []
        assert (await alice.delete_post(post["id"]))["deleted"] is True
        checked = await bob.check_provenance(await alice.download(video["id"]))
        assert isinstance(checked, dict) and checked


async def test_swipe_sessions_and_previews_over_the_socket(api, stores):
    async with FabulaClient(api.url, timeout=120) as carol:
        await carol.signup(handle("c"), PASSWORD, "1990-01-01")
        async with carol.socket() as ws:
            assert ws.hello["handle"] == (await carol.me())["handle"]
            assert await ws.ping({"n": 1}) == {"n": 1}
            session = await ws.open_feed("for_you", window=2)
            page = await session.items(timeout=30)
            assert set(page) >= {"items", "cursor", "exhausted"}
            if page["items"]:
                first = page["items"][0]["id"]
                ack = await session.event(first, "impression", ack=True)
                assert ack["post_id"] == first and ack["position"] == 1
            closed = await session.close()
            assert closed["session_id"] == session.id

            job = await jobs.create_job(stores, owner_id=(await carol.me())["id"], prompt="a kite", model="tiny", width=64, height=64, seconds=1, steps=4)
            await ws.subscribe(job.id, previews=True)
            picture = io.BytesIO()
            Image.new("RGB", (32, 32), (10, 200, 10)).save(picture, format="JPEG")
            await previews.publish(stores, previews.Preview(video_id=job.id, step=2, steps=4, progress=50, image=picture.getvalue()))
            frame = await ws.next("preview", timeout=30)
            assert (frame.video_id, frame.step, frame.steps, frame.image) == (job.id, 2, 4, picture.getvalue())
            assert (await ws.unsubscribe(job.id))["previews"]["sent"] == 1
            with pytest.raises(FabulaAPIError) as unknown:
                await ws.request("no.such.thing", {})
            assert unknown.value.code == "unknown_type"
            await jobs.delete_job(stores, job.id)


async def test_cameos_characters_requests_grants_and_appearances(api, worker, cat_recording, face_recording):
    async with FabulaClient(api.url, timeout=120) as dana, FabulaClient(api.url, timeout=120) as eli:
        await dana.signup(handle("d"), PASSWORD, "1990-01-01")
        await eli.signup(handle("e"), PASSWORD, "1990-01-01")
        challenge = await dana.cameo_challenge()
        assert set(challenge) == {"id", "digits", "moves", "expires_at"}
        with pytest.raises(FabulaAPIError) as refused:  # a face that does not say the digits
            await dana.create_cameo(challenge["id"], face_recording, name="Dana")
        assert (refused.value.status, refused.value.code) == (422, "liveness_failed") and refused.value.details
        assert (await dana.my_cameos())["data"] == []

        character = await dana.create_character("Chelsea the Cat", cat_recording)
        assert (await dana.character(character["id"]))["name"] == "Chelsea the Cat"
        cameo = await dana.cameo(character["id"])
        assert cameo["kind"] == "character" and [c["id"] for c in (await eli.user_cameos((await dana.me())["handle"]))["data"]] == [cameo["id"]]
        cameo = await dana.update_cameo(cameo["id"], permission="approved", restrictions=["political"])
        assert (cameo["permission"], cameo["restrictions"]) == ("approved", ["political"])

        eli_id = (await eli.me())["id"]
        asked = await eli.request_cameo(cameo["id"])
        assert asked["state"] == "requested"
        assert [g["user"]["id"] for g in (await dana.cameo_requests("incoming"))["data"]] == [eli_id]
        assert (await dana.decline_cameo(cameo["id"], eli_id))["state"] == "declined"
        assert (await eli.cameo_requests("outgoing", state="declined"))["data"][0]["cameo_id"] == cameo["id"]
        await eli.request_cameo(cameo["id"])
        assert (await dana.approve_cameo(cameo["id"], eli_id))["state"] == "approved"
        assert [g["state"] for g in (await dana.cameo_grants(cameo["id"]))["data"]] == ["approved"]

        made = await eli.create_video(f"{cameo['mention']} chasing a ball", seconds=1, size="64x64")
        await eli.wait_video(made["id"], timeout=WAIT)
        appearances = (await dana.cameo_appearances(cameo["id"]))["data"]
        assert [a["video_id"] for a in appearances] == [made["id"]]
        assert (await dana.remove_appearance(cameo["id"], made["id"]))["deleted"] is True
        with pytest.raises(FabulaAPIError):
            await eli.video(made["id"])  # gone with its appearance

        assert (await dana.revoke_cameo(cameo["id"], eli_id))["state"] == "revoked"
        deleted = await dana.delete_cameo(cameo["id"])
        assert deleted["deleted"] is True
        with pytest.raises(FabulaAPIError) as gone:
            await dana.cameo(cameo["id"])
        assert gone.value.status == 404


async def test_errors_carry_the_servers_code(api):
    async with FabulaClient(api.url, timeout=120) as nobody:
        with pytest.raises(FabulaAPIError) as unauthorized:
            await nobody.me()
        assert unauthorized.value.status == 401
        await nobody.signup(handle("f"), PASSWORD, "1990-01-01")
        with pytest.raises(FabulaAPIError) as missing:
            await nobody.user("no_such_handle_" + uuid.uuid4().hex[:6])
        assert (missing.value.status, missing.value.code) == (404, "user_not_found")
        assert (await nobody.export_account())[:2] == b"PK"  # a zip
        token = nobody.token
        await nobody.logout()
        assert nobody.token is None
        nobody.token = token
        with pytest.raises(FabulaAPIError) as revoked:
            await nobody.me()
        assert revoked.value.status == 401
    async with FabulaClient(api.url, timeout=120) as leaving:
        name = handle("g")
        await leaving.signup(name, PASSWORD, "1990-01-01")
        await leaving.delete_account(PASSWORD)
        assert leaving.token is None
        with pytest.raises(FabulaAPIError) as gone:
            await leaving.login(name, PASSWORD)
        assert gone.value.status == 401


async def test_search_users_pages_through_handles(api):
    base = "sr" + uuid.uuid4().hex[:8]
    async with FabulaClient(api.url) as one, FabulaClient(api.url) as viewer:
        await one.signup(base + "_a", PASSWORD, "1990-01-01")
        await viewer.signup(base + "_b", PASSWORD, "1990-01-01")
        async with FabulaClient(api.url) as kid:
            await kid.signup(base + "_c", PASSWORD, datetime.date(datetime.date.today().year - 15, 1, 1))
            assert (await kid.me())["minor"] is True
        found = [u["handle"] async for u in viewer.pages(viewer.search_users, base, limit=1)]
        assert found == [base + "_a", base + "_b"]  # the minor is not shown to an adult stranger
