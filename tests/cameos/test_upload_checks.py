"""Uploads against the live api with the real detectors: an input_reference
that shows a real face is refused (422 ``moderation_blocked``, OpenAI's
error shape, audited, nothing stored) unless the face is a cameo the uploader
may use: its owner's own, or one they were granted. Pictures without a face
pass. The cameo is recorded through ``POST /v1/cameos`` (liveness, and
NudeNet on the capture's frames) from the astronaut photo."""

from __future__ import annotations

import base64

import pytest
import skimage.data

from core import nudity
from policy.images import judge_nudity
from tests.cameos.capture import astronaut_head, make_capture
from tests.cameos.helpers import erase_recorded_faces
from tests.cameos.recorded_face import hopper_frame, jpeg, png, scene
from tests.cameos.test_routes import fixed_challenge, live_recording, upload
from tests.conftest import signup
from tests.server.test_videos_routes import assert_error, video_count

ASTRONAUT = png(scene(astronaut_head()))
MISSING = "cameo_01jzzzzzzzzzzzzzzzzzzzzzzz"


@pytest.fixture(scope="module")
async def alice(api, stores, settings, tmp_path_factory):
    """A user whose verified cameo is the astronaut, recorded over HTTP."""
    import httpx

    async with httpx.AsyncClient(base_url=api.url, timeout=300) as http:
        me = await signup(http)
        ch = await fixed_challenge(http, stores, me, 0)
        r = await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, live_recording(tmp_path_factory.mktemp("rec"), ch))
        assert r.status_code == 201, r.text
        me["cameo"] = r.json()["id"]
    yield me
    await erase_recorded_faces(settings)


async def create(http, user, picture: bytes, *, as_json: bool = False, kind: str = "png"):
    fields = {"prompt": "a person waves at the camera", "seconds": "1", "size": "64x64"}
    if as_json:
        url = f"data:image/{kind};base64," + base64.b64encode(picture).decode()
        return await http.post("/v1/videos", json={**fields, "input_reference": {"image_url": url}}, headers=user["headers"])
    return await http.post(
        "/v1/videos", data=fields, files={"input_reference": (f"me.{kind}", picture, f"image/{kind}")}, headers=user["headers"]
    )


async def accepted(http, user, picture: bytes, **kwargs) -> None:
    r = await create(http, user, picture, **kwargs)
    assert r.status_code == 200, r.text
    assert r.json()["reference"] is True
    assert (await http.delete(f"/v1/videos/{r.json()['id']}", headers=user["headers"])).status_code == 200


def refused(r) -> dict:
    err = assert_error(r, 422, "moderation_blocked")
    assert err["details"]["category"] == "real_person" and err["type"] == "invalid_request_error"
    return err


async def test_a_strangers_face_is_refused_and_nothing_is_stored(http, stores, settings, alice):
    bob = await signup(http)
    for kwargs in ({}, {"as_json": True}):
        err = refused(await create(http, bob, ASTRONAUT, **kwargs))
        assert err["param"] == "input_reference"
        assert alice["user"]["handle"] not in err["message"] and alice["cameo"] not in str(err)
    err = refused(await create(http, bob, jpeg(scene(astronaut_head())), kind="jpeg"))
    assert await video_count(http, bob["headers"]) == 0
    assert await stores.db["videos"].count_documents({"owner_id": bob["user"]["id"]}) == 0
    audited = await stores.db["audit"].count_documents({"actor_id": bob["user"]["id"], "action": "upload.refused"})
    assert audited == 3


async def test_the_owner_and_a_granted_user_may_upload_the_face(http, alice):
    await accepted(http, alice, ASTRONAUT)
    await accepted(http, alice, ASTRONAUT, as_json=True)
    carol = await signup(http)
    cameo = alice["cameo"]
    r = await http.patch(f"/v1/cameos/{cameo}", json={"permission": "approved"}, headers=alice["headers"])
    assert r.status_code == 200, r.text
    try:
        assert (await http.post(f"/v1/cameos/{cameo}/requests", headers=carol["headers"])).status_code in (200, 201)
        refused(await create(http, carol, ASTRONAUT))  # asked, not yet approved
        # carol cannot approve herself, nor use someone else's ids to get there
        r = await http.post(f"/v1/cameos/{cameo}/grants/{carol['user']['id']}/approve", headers=carol["headers"])
        assert_error(r, 403, "not_cameo_owner")
        refused(await create(http, carol, ASTRONAUT))
        r = await http.post(f"/v1/cameos/{cameo}/grants/{carol['user']['id']}/approve", headers=alice["headers"])
        assert r.status_code == 200, r.text
        await accepted(http, carol, ASTRONAUT)
        r = await http.post(f"/v1/cameos/{cameo}/grants/{carol['user']['id']}/revoke", headers=alice["headers"])
        assert r.status_code == 200, r.text
        refused(await create(http, carol, ASTRONAUT))
    finally:
        await http.patch(f"/v1/cameos/{cameo}", json={"permission": "only_me"}, headers=alice["headers"])


async def test_pictures_without_a_face_pass_and_an_unknown_face_does_not(http, alice):
    dave = await signup(http)
    await accepted(http, dave, png(skimage.data.coffee()))
    await accepted(http, dave, jpeg(skimage.data.chelsea()), as_json=True, kind="jpeg")  # JSON bodies are small
    # a real person who has no cameo: refused even for the owner of another face
    refused(await create(http, alice, png(hopper_frame())))
    refused(await create(http, dave, png(hopper_frame())))


async def test_an_uploaded_video_to_extend_is_checked_too(http, alice, tmp_path):
    path = make_capture(str(tmp_path / "still.mp4"), moves=[], audio=None, variant="still", seconds=1.0, size=(320, 240))
    mp4 = open(path, "rb").read()
    bob = await signup(http)
    r = await http.post(
        "/v1/videos/extensions", data={"prompt": "she waves", "seconds": "1"}, files={"video": ("clip.mp4", mp4, "video/mp4")},
        headers=bob["headers"],
    )
    assert refused(r)["param"] == "video"
    assert await video_count(http, bob["headers"]) == 0
    r = await http.post(
        "/v1/videos/extensions", data={"prompt": "she waves", "seconds": "1"}, files={"video": ("clip.mp4", mp4, "video/mp4")},
        headers=alice["headers"],
    )
    assert r.status_code == 200, r.text
    await http.delete(f"/v1/videos/{r.json()['id']}", headers=alice["headers"])


async def test_a_cameos_face_in_the_picture_features_the_cameo(http, stores, alice):
    """A picture that shows a cameo's face makes a video that features the
    cameo, as a mention would, though the prompt names nobody: the job holds
    the cameo, its owner sees the video among its appearances (and is told
    when someone else made it), and can remove it; the cameo's restrictions
    apply to the prompt."""
    carol = await signup(http)
    cameo = alice["cameo"]
    r = await http.patch(f"/v1/cameos/{cameo}", json={"permission": "approved", "restrictions": ["horror"]}, headers=alice["headers"])
    assert r.status_code == 200, r.text
    try:
        await http.post(f"/v1/cameos/{cameo}/requests", headers=carol["headers"])
        r = await http.post(f"/v1/cameos/{cameo}/grants/{carol['user']['id']}/approve", headers=alice["headers"])
        assert r.status_code == 200, r.text
        r = await create(http, carol, ASTRONAUT)  # "a person waves at the camera": no mention
        assert r.status_code == 200, r.text
        video_id = r.json()["id"]
        job = await stores.db["videos"].find_one({"_id": video_id})
        assert job["cameos"] == [cameo], job.get("cameos")
        listed = (await http.get(f"/v1/cameos/{cameo}/appearances", headers=alice["headers"])).json()["data"]
        mine = [a for a in listed if a["video_id"] == video_id]
        assert len(mine) == 1 and mine[0]["creator"]["id"] == carol["user"]["id"] and mine[0]["basis"] == "approved", listed
        told = (await http.get("/v1/notifications", headers=alice["headers"])).json()["data"]
        assert any(n["kind"] == "cameo_used" and n["video_id"] == video_id for n in told), told
        r = await http.delete(f"/v1/cameos/{cameo}/appearances/{video_id}", headers=alice["headers"])
        assert r.status_code == 200, r.text
        assert (await http.get(f"/v1/videos/{video_id}", headers=carol["headers"])).status_code == 404
        # the cameo's restrictions hold for a pictured cameo too
        fields = {"prompt": "a horror film: a zombie at the door", "seconds": "1", "size": "64x64"}
        r = await http.post("/v1/videos", data=fields, files={"input_reference": ("me.png", ASTRONAUT, "image/png")}, headers=carol["headers"])
        assert_error(r, 422, "cameo_restricted")
        # a picture without a face features nobody
        r = await create(http, carol, png(skimage.data.coffee()))
        assert r.status_code == 200 and (await stores.db["videos"].find_one({"_id": r.json()["id"]}))["cameos"] == []
        await http.delete(f"/v1/videos/{r.json()['id']}", headers=carol["headers"])
        # one's own face stays one's own to use, even while the cameo is paused: not a use of the cameo
        assert (await http.patch(f"/v1/cameos/{cameo}", json={"paused": True}, headers=alice["headers"])).status_code == 200
        r = await create(http, alice, ASTRONAUT)
        assert r.status_code == 200, r.text
        assert (await stores.db["videos"].find_one({"_id": r.json()["id"]}))["cameos"] == []
        await http.delete(f"/v1/videos/{r.json()['id']}", headers=alice["headers"])
    finally:
        await http.patch(f"/v1/cameos/{cameo}", json={"permission": "only_me", "restrictions": [], "paused": False}, headers=alice["headers"])


async def test_another_users_ids(http, alice):
    """The upload routes take no ids of their own; the ids around them (a cameo, a grant,
    a video to extend) answer another user as theirs would."""
    bob = await signup(http)
    r = await http.patch(f"/v1/cameos/{alice['cameo']}", json={"permission": "everyone"}, headers=bob["headers"])
    assert_error(r, 403, "not_cameo_owner")
    r = await http.post(f"/v1/cameos/{MISSING}/requests", headers=bob["headers"])
    assert_error(r, 404)
    r = await create(http, alice, png(skimage.data.coffee()))
    video_id = r.json()["id"]
    r = await http.post("/v1/videos/extensions", json={"prompt": "on and on", "video": {"id": video_id}}, headers=bob["headers"])
    assert_error(r, 404, "video_not_found")
    await http.delete(f"/v1/videos/{video_id}", headers=alice["headers"])
    refused(await create(http, bob, ASTRONAUT))  # and the face is still not bob's to use


def test_nudenet_on_real_pictures_finds_no_nudity():
    """The real detector on real pictures (no legitimate nude picture exists for tests: the
    refusing side of the decision is tested on recorded outputs, tests/policy/test_face_likeness.py)."""
    for picture in (skimage.data.astronaut(), astronaut_head(), skimage.data.coffee(), skimage.data.chelsea(), hopper_frame()):
        found = nudity.detect(picture)
        assert judge_nudity([(d.label, d.score) for d in found], strict=True).allowed, found
    faces = [d.label for d in nudity.detect(skimage.data.astronaut())]
    assert "FACE_FEMALE" in faces  # the detector runs and sees the portrait


async def test_a_recording_refused_by_moderation_is_audited_and_other_errors_are_not(stores):
    """The cameo and character routes wrap onboarding in ``_audited_upload``. A nude recording
    cannot be made legitimately here, so the refusal that onboarding raises is raised by hand."""
    import types
    import uuid

    from cameos.upload_refusal import moderation_blocked
    from core.errors import PolicyViolation
    from policy.decision import Decision
    from server.routes.cameos import _audited_upload

    user = types.SimpleNamespace(id=f"user_{uuid.uuid4().hex[:12]}")
    refusal = moderation_blocked(Decision.refuse("sexual", "This picture shows nudity."), "video")
    with pytest.raises(PolicyViolation) as caught:
        async with _audited_upload(stores, user):
            raise refusal
    assert caught.value is refusal  # the same 422 reaches the client
    other = PolicyViolation("no digits heard", code="liveness_failed")
    with pytest.raises(PolicyViolation):
        async with _audited_upload(stores, user):
            raise other
    found = [d async for d in stores.db["audit"].find({"actor_id": user.id})]
    assert [(d["action"], d["details"]) for d in found] == [("upload.refused", {"category": "sexual", "field": "video"})]
