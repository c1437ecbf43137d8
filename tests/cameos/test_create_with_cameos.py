"""Cameos in the Videos API, end to end on a live api and a real worker: a
cameo recorded through the liveness check, then mentioned in prompts by its
owner and by a fan under each state of consent. A grant revoked while a job
waits fails the job at pickup; a draft made before the revocation cannot be
published; a remix cannot launder the likeness; the owner is told of each use.
"""

from __future__ import annotations

import io
import uuid

import httpx
import msgspec
import pytest
from PIL import Image

from accounts import users
from cameos import appearances
from core.media_store import open_media_store
from core.stores import open_stores
from gen import jobs
from tests.cameos.helpers import character, erase_recorded_faces
from tests.cameos.test_routes import fixed_challenge, live_recording, upload
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_posts_feed import FAST, follow, poll
from tests.feed.test_social import block, new_post
from tests.procs import start_api, start_worker


@pytest.fixture(scope="module")
def world(settings, tmp_root):
    """Its own namespace, api and (started and stopped by the test) worker."""
    mine = msgspec.structs.replace(settings, namespace="cw" + uuid.uuid4().hex[:8])
    api = start_api(mine, tmp_root / "logs-cameo-create")
    yield api, mine
    api.stop()


def _refused(r: httpx.Response, status: int, code: str) -> None:
    """An error of the Videos API (OpenAI's shape: message, type, param, code) or of the project."""
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"], error


async def _status(http, user, video_id: str) -> dict:
    r = await http.get(f"/v1/videos/{video_id}", headers=user["headers"])
    assert r.status_code == 200, r.text
    return r.json()


async def _finished(http, user, video_id: str) -> dict:
    async def done():
        v = await _status(http, user, video_id)
        return v if v["status"] in ("completed", "failed") else None

    return await poll(done, timeout=240, what=f"{video_id} to finish")


async def _create(http, user, prompt: str) -> httpx.Response:
    return await http.post("/v1/videos", json={"prompt": prompt, **FAST}, headers=user["headers"])


async def test_cameo_consent_through_create_pickup_publish_and_remix(world, tmp_root, tmp_path):
    api, mine = world
    stores = open_stores(mine)
    media = open_media_store(mine)
    worker = None
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=300) as http:
            alice, bob = await signup(http), await signup(http)
            handle = alice["user"]["handle"]
            ch = await fixed_challenge(http, stores, alice, 0)
            r = await upload(http, alice, "/v1/cameos", {"challenge_id": ch["id"], "name": "Alice"}, live_recording(tmp_path, ch))
            assert r.status_code == 201, r.text
            cameo = r.json()
            cid = cameo["id"]
            r = await http.patch(
                f"/v1/cameos/{cid}", json={"preferences": ["always wearing a red scarf"]}, headers=alice["headers"]
            )
            assert r.status_code == 200, r.text

            # only_me: the owner may, a stranger may not (the hosted Sora API's code and message)
            r = await _create(http, bob, f"@{handle} dancing in the rain")
            _refused(r, 403, "cameo_permission_denied")
            assert "not allowed" in r.json()["error"]["message"]
            _refused(await _create(http, bob, "@nobody_like_this_1 dancing"), 422, "unknown_cameo")
            assert (await jobs.list_jobs(stores, bob["user"]["id"], after=None, limit=5)) == []  # nothing written

            r = await _create(http, alice, f"@{handle} on a beach at dawn")
            assert r.status_code == 200, r.text
            own = await jobs.get_job(stores, r.json()["id"])
            assert own.cameos == [cid] and own.reference
            assert own.prompt == f"@{handle} on a beach at dawn" and "red scarf" in own.render_prompt
            with Image.open(io.BytesIO(await media.get_bytes(own.id, "reference"))) as picture:
                assert picture.size == (64, 64)  # the cameo's frame, composed at the video's size
            # the owner's own use notifies nobody
            notes = (await http.get("/v1/notifications", headers=alice["headers"])).json()["data"]
            assert [n for n in notes if n["kind"] == "cameo_used"] == []

            # approved: bob asks, alice approves; bob's video is made, and alice is told
            assert (await http.patch(f"/v1/cameos/{cid}", json={"permission": "approved"}, headers=alice["headers"])).status_code == 200
            assert (await http.post(f"/v1/cameos/{cid}/requests", headers=bob["headers"])).status_code == 200
            bob_id = bob["user"]["id"]
            r = await http.post(f"/v1/cameos/{cid}/grants/{bob_id}/approve", headers=alice["headers"])
            assert r.status_code == 200, r.text
            r = await _create(http, bob, f"@{handle} waves from a boat")
            assert r.status_code == 200, r.text
            draft = r.json()["id"]
            consents = (await jobs.get_job(stores, draft)).cameo_consents
            assert [(c.cameo_id, c.basis, c.grant_id) for c in consents] == [(cid, "approved", f"{cid}:{bob_id}")]
            notes = (await http.get("/v1/notifications", headers=alice["headers"])).json()["data"]
            assert any(n["kind"] == "cameo_used" and n["cameo_id"] == cid and n["actor"]["id"] == bob_id for n in notes)
            appearances = (await http.get(f"/v1/cameos/{cid}/appearances", headers=alice["headers"])).json()["data"]
            assert {a["video_id"] for a in appearances} >= {own.id, draft}

            worker = start_worker(mine, tmp_root / "logs-cameo-create", name="cw1")
            assert (await _finished(http, bob, draft))["status"] == "completed"
            assert (await _finished(http, alice, own.id))["status"] == "completed"
            worker.stop()
            worker = None

            # a job queued while the grant stands, then the grant revoked: the worker refuses it at pickup
            r = await _create(http, bob, f"@{handle} rides a bicycle")
            assert r.status_code == 200, r.text
            queued = r.json()["id"]
            r = await http.post(f"/v1/cameos/{cid}/grants/{bob_id}/revoke", headers=alice["headers"])
            assert r.status_code == 200 and r.json()["state"] == "revoked"
            worker = start_worker(mine, tmp_root / "logs-cameo-create", name="cw2")
            failed = await _finished(http, bob, queued)
            assert failed["status"] == "failed" and failed["error"]["code"] == "cameo_permission_denied", failed

            # the draft made before the revocation cannot be published ...
            r = await http.post("/v1/posts", json={"video_id": draft, "caption": "hi"}, headers=bob["headers"])
            assert_error(r, 403, "cameo_permission_denied")
            # ... nor laundered through a remix whose prompt no longer names her
            r = await http.post(f"/v1/videos/{draft}/remix", json={"prompt": "a boat on a calm sea"}, headers=bob["headers"])
            _refused(r, 403, "cameo_permission_denied")
            # ... nor continued
            r = await http.post("/v1/videos/extensions", json={"video": {"id": draft}, "prompt": "the boat sails on", "seconds": "1"}, headers=bob["headers"])
            _refused(r, 403, "cameo_permission_denied")

            # the owner's own video publishes and remixes as before
            r = await http.post("/v1/posts", json={"video_id": own.id, "caption": "me"}, headers=alice["headers"])
            assert r.status_code == 201, r.text
            post_id = r.json()["id"]
            # her profile's cameos tab shows the published post she appears in, not bob's unpublished draft
            tab = (await http.get(f"/v1/users/{handle}/cameo-posts", headers=bob["headers"])).json()
            assert [p["id"] for p in tab["data"]] == [post_id] and tab["next_cursor"] is None
            r = await http.get(f"/v1/users/{handle}/cameo-posts", params={"cursor": "not a cursor!"}, headers=bob["headers"])
            assert_error(r, 400, "invalid_cursor")
            r = await http.post(f"/v1/videos/{own.id}/remix", json={"prompt": "a quiet harbour"}, headers=alice["headers"])
            assert r.status_code == 200, r.text
            remix = await jobs.get_job(stores, r.json()["id"])
            assert remix.cameos == [cid]  # the source's cameo is carried into the remix
    finally:
        if worker is not None:
            worker.stop()
        await stores.close()
        await erase_recorded_faces(mine)


async def test_the_cameos_tab_shows_each_viewer_only_the_posts_they_may_see(http, stores, settings):
    """Posts featuring a cameo keep their own visibility on its owner's cameos
    tab; a block between viewer and owner hides the tab (404), one between
    viewer and a post's author hides that post."""
    owner, maker, fan, stranger = [await signup(http) for _ in range(4)]
    cameo = await character(stores, open_media_store(settings), await users.get_user(stores, owner["user"]["id"]), "pip" + uuid.uuid4().hex[:8])
    await follow(http, fan, maker)
    made = {}
    for visibility in ("public", "followers", "private"):  # each featuring the cameo, oldest first
        post = await new_post(http, stores, maker, f"with pip, {visibility}", visibility=visibility)
        await appearances.record(
            stores, cameo_id=cameo.id, owner_id=owner["user"]["id"], video_id=post["video_id"], creator_id=maker["user"]["id"], basis="public"
        )
        made[visibility] = post["id"]
    handle = owner["user"]["handle"]

    async def tab(viewer: dict) -> list[str]:
        r = await http.get(f"/v1/users/{handle}/cameo-posts", headers=viewer["headers"])
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["data"]]

    assert await tab(maker) == [made["private"], made["followers"], made["public"]]  # newest use first
    assert await tab(fan) == [made["followers"], made["public"]]
    assert await tab(stranger) == [made["public"]]
    assert await tab(owner) == [made["public"]]  # being in a post does not show it to the cameo's owner

    # a block between the viewer and the cameo's owner, either way: no tab at all
    await block(http, stranger, owner)
    r = await http.get(f"/v1/users/{handle}/cameo-posts", headers=stranger["headers"])
    assert_error(r, 404, "user_not_found")
    assert made["public"] not in r.text
    await block(http, owner, fan)
    assert_error(await http.get(f"/v1/users/{handle}/cameo-posts", headers=fan["headers"]), 404, "user_not_found")

    # a block between the viewer and the posts' author: those posts leave the tab
    viewer = await signup(http)
    assert await tab(viewer) == [made["public"]]
    await block(http, maker, viewer)
    assert await tab(viewer) == []
