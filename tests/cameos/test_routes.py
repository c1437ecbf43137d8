"""The cameo routes against the live api: challenges, uploads and their
limits, settings, requests and grants with their notifications (stored and
pushed live), appearances and their removal, deletion, and another user's ids
tried on every route. Cameos that need no recording are made straight in the
store the api reads; recordings are made by tests/cameos/capture.py."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import numpy as np
import pytest

from cameos import appearances, challenges, resolve, store
from core.media_store import open_media_store
from gen import jobs
from tests.cameos.capture import make_capture, quiet_room, tone_speech
from tests.cameos.helpers import JPEG, WAV, erase_recorded_faces, face
from tests.conftest import signup
from tests.server.test_videos_routes import assert_error  # the Videos API paths carry OpenAI's type and param too
from tests.feed.test_notifications import next_of_type, notes
from tests.feed.test_social import block, ready_video
from tests.server.test_ws import connect

MISSING = "cameo_01jzzzzzzzzzzzzzzzzzzzzzzz"


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(settings):
    return open_media_store(settings)


async def make_cameo(stores, media, user: dict, *, kind: str = "human", mention: str | None = None, **changes) -> dict:
    """A cameo of ``user`` made in the store (no recording), returned as the api shows it to its owner."""
    cameo = await store.create_cameo(
        stores,
        media,
        owner_id=user["user"]["id"],
        kind=kind,
        name=mention or user["user"]["handle"],
        mention=mention,
        embedding=face(uuid.uuid4().int % 100_000) if kind == "human" else None,
        frames=[JPEG, JPEG, JPEG],
        voice=WAV if kind == "human" else None,
    )
    if changes:
        await store.update_cameo(stores, cameo.id, user["user"]["id"], changes)
    return {"id": cameo.id, "owner": user}


def multipart(fields: dict[str, str], video: bytes | None, filename: str = "rec.mp4") -> dict:
    files = {"video": (filename, video, "video/mp4")} if video is not None else None
    return {"data": fields, "files": files}


async def upload(http, user: dict, path: str, fields: dict[str, str], video: bytes | None) -> httpx.Response:
    kwargs = multipart(fields, video)
    if kwargs["files"] is None:  # a form without a file still goes as multipart
        kwargs["files"] = {"unused": (None, "")}
    return await http.post(path, headers=user["headers"], timeout=300, **kwargs)


async def challenge(http, user: dict) -> dict:
    r = await http.post("/v1/cameos/challenges", headers=user["headers"])
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, bytes]:
    """Recordings made once: a live face that turns and says nothing (a quiet room), and a cat
    to a buzz."""
    folder = tmp_path_factory.mktemp("recordings")
    out = {}
    for name, variant, audio in (("quiet_face", "live", quiet_room(6.0)), ("cat", "no_face", tone_speech(6.0))):
        path = str(folder / f"{name}.mp4")
        make_capture(path, moves=["left", "right"], audio=audio, sample_rate=16000, variant=variant, size=(320, 240))
        out[name] = open(path, "rb").read()
    return out


# --- challenges -----------------------------------------------------------------------------


async def test_a_challenge_over_http(http):
    me = await signup(http)
    body = await challenge(http, me)
    assert set(body) == {"id", "digits", "moves", "expires_at"}
    assert body["digits"].isdigit() and 4 <= len(body["digits"]) <= 6 and sorted(body["moves"]) == ["left", "right"]
    assert_error(await http.post("/v1/cameos/challenges"), 401)


async def test_too_many_challenges_says_when_to_try_again(http):
    me = await signup(http)
    for _ in range(challenges.MAX_PER_WINDOW):
        await challenge(http, me)
    r = await http.post("/v1/cameos/challenges", headers=me["headers"])
    err = assert_error(r, 429, "too_many_challenges")
    wait = int(r.headers["retry-after"])
    assert 0 < wait <= challenges.TTL_S and err["details"] == {"retry_after_s": wait}, (r.headers, err)
    await challenge(http, await signup(http))  # per user


# --- recording a cameo: the limits and the failures --------------------------------------------


async def test_upload_mistakes_are_4xx(http):
    me = await signup(http)
    ch = await challenge(http, me)
    # not multipart
    assert_error(await http.post("/v1/cameos", json={"challenge_id": ch["id"]}, headers=me["headers"]), 415, "unsupported_media_type")
    # no challenge, a malformed one, no video, an empty video, a stray file field
    assert_error(await upload(http, me, "/v1/cameos", {}, b"x" * 100), 400, "invalid_request")
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": "nope"}, b"x" * 100), 400, "invalid_challenge_id")
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, None), 400, "invalid_request")
    # an empty file was sent as the field: it is no video (and the challenge is kept)
    err = assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, b""), 422, "invalid_recording")
    assert "empty" in err["message"], err
    r = await http.post(
        "/v1/cameos", headers=me["headers"], data={"challenge_id": ch["id"]}, files={"photo": ("a.jpg", b"x", "image/jpeg")}
    )
    assert_error(r, 400, "invalid_request")
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"], "name": "a\nb"}, b"x" * 100), 400)
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"], "name": "x" * 51}, b"x" * 100), 400)
    # ordinary fields are small, and a form has few parts
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"], "name": "x" * 70_000}, b"x" * 100), 413)
    many = {f"f{i}": "1" for i in range(20)}
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"], **many}, b"x" * 100), 400, "malformed_form")
    # a broken multipart body
    r = await http.post(
        "/v1/cameos", headers={**me["headers"], "content-type": "multipart/form-data; boundary=zz"}, content=b"--zz\r\nbroken"
    )
    assert_error(r, 400, "malformed_form")
    assert (await http.get("/v1/me/cameos", headers=me["headers"])).json()["data"] == []


async def test_a_corrupt_file_is_422_and_keeps_the_challenge(http, stores):
    me = await signup(http)
    ch = await challenge(http, me)
    for junk in (b"\x00" * 5000, bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8)), b"\x1aE\xdf\xa3" + b"\x00" * 64):
        err = assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, junk), 422, "invalid_recording")
        assert "/tmp" not in err["message"] and "fabula-upload" not in err["message"], err  # no server path in the answer
    # the header was refused before the challenge was taken: it is still there
    key = stores.key("cameo", "challenge", me["user"]["id"], ch["id"])
    assert await stores.redis.exists(key)


async def test_over_50_mb_is_413_before_it_is_read(http, settings):
    me = await signup(http)
    ch = await challenge(http, me)
    limit = settings.cameo_max_upload_bytes
    # declared too large: refused on its Content-Length
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="challenge_id"\r\n\r\n{ch["id"]}\r\n'
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    tail = f"\r\n--{boundary}--\r\n".encode()
    body_len = len(head) + limit + 1 + len(tail)

    async def stream():
        yield head.encode()
        chunk = b"\x00" * (1 << 20)
        sent = 0
        while sent < limit + 1:
            part = chunk[: min(len(chunk), limit + 1 - sent)]
            sent += len(part)
            yield part
        yield tail

    ctype = {"content-type": f"multipart/form-data; boundary={boundary}"}
    try:
        r = await http.post("/v1/cameos", headers={**me["headers"], **ctype, "content-length": str(body_len)}, content=stream())
        assert_error(r, 413, "payload_too_large")
    except httpx.WriteError:  # the server may answer and close before the client has sent it all
        pass
    # streamed without a length: refused once it goes past the limit
    r = await http.post("/v1/cameos", headers={**me["headers"], **ctype}, content=stream(), timeout=120)
    assert_error(r, 413, "payload_too_large")
    assert r.json()["error"]["details"] == {"limit": limit}
    # the challenge is untouched
    assert (await http.get("/v1/me/cameos", headers=me["headers"])).json()["data"] == []


async def test_an_expired_or_unknown_challenge_is_410(http, recordings):
    me = await signup(http)
    r = await upload(http, me, "/v1/cameos", {"challenge_id": "chal_" + "0" * 26}, recordings["quiet_face"])
    assert_error(r, 410, "challenge_expired")
    other = await signup(http)
    theirs = await challenge(http, other)  # another user's challenge is not mine to use
    assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": theirs["id"]}, recordings["quiet_face"]), 410, "challenge_expired")


async def test_liveness_failure_says_what_was_seen_and_uses_the_challenge(http, recordings):
    me = await signup(http)
    ch = await challenge(http, me)
    r = await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"], "name": "Me"}, recordings["quiet_face"])
    err = assert_error(r, 422, "liveness_failed")
    details = err["details"]
    assert "digits" in details["failures"] and details["digits_expected"] == ch["digits"]
    assert details["moves_expected"] == ch["moves"] and {"faces_min", "faces_max", "moves_seen", "digits_heard"} <= set(details)
    assert "embedding" not in details
    # used once: the same challenge again is gone
    r = await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, recordings["quiet_face"])
    assert_error(r, 410, "challenge_used")
    assert (await http.get("/v1/me/cameos", headers=me["headers"])).json()["data"] == []


async def test_a_second_cameo_of_ones_own_face_is_409(http, stores, media, recordings):
    me = await signup(http)
    await make_cameo(stores, media, me)
    ch = await challenge(http, me)
    r = await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, recordings["quiet_face"])
    assert_error(r, 409, "cameo_exists")


# --- characters (the OpenAI SDK's create_character / get_character) -----------------------------


async def test_a_character_without_a_face(http, settings, recordings):
    me = await signup(http)
    r = await upload(http, me, "/v1/videos/characters", {"name": "Chelsea the Cat"}, recordings["cat"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Chelsea the Cat" and body["id"].startswith("cameo_") and isinstance(body["created_at"], int)
    assert body["mention"] == f"@{me['user']['handle'].lower()}.chelsea_the_cat"
    got = (await http.get(f"/v1/videos/characters/{body['id']}", headers=me["headers"])).json()
    assert (got["id"], got["name"], got["created_at"]) == (body["id"], body["name"], body["created_at"])
    cameo = (await http.get(f"/v1/cameos/{body['id']}", headers=me["headers"])).json()
    assert cameo["kind"] == "character" and not cameo["face"] and cameo["permission"] == "only_me"
    # its reference frames came from the video
    media = open_media_store(settings)
    assert (await media.get_bytes(body["id"], "frame1"))[:2] == b"\xff\xd8"
    # the same name again is taken
    taken = assert_error(await upload(http, me, "/v1/videos/characters", {"name": "chelsea-the-cat"}, recordings["cat"]), 409, "cameo_exists")
    assert taken["type"] == "invalid_request_error" and taken["param"] == "name"  # OpenAI's error shape on the Videos API
    unnamed = assert_error(await upload(http, me, "/v1/videos/characters", {"name": "!!!"}, recordings["cat"]), 400, "invalid_name")
    assert unnamed["param"] == "name"
    assert_error(await upload(http, me, "/v1/videos/characters", {}, recordings["cat"]), 400)


async def test_a_still_picture_is_not_a_video(http, stores):
    """FFmpeg reads a PNG or a JPEG as a one-frame stream; neither a character
    nor a cameo takes one as its video."""
    import io

    from PIL import Image

    me = await signup(http)
    ch = await challenge(http, me)
    for fmt in ("PNG", "JPEG", "WEBP"):
        out = io.BytesIO()
        Image.new("RGB", (320, 240), (180, 120, 60)).save(out, format=fmt)
        picture = out.getvalue()
        err = assert_error(await upload(http, me, "/v1/videos/characters", {"name": f"Still {fmt}"}, picture), 422, "invalid_recording")
        assert "no video track" in err["message"], err
        err = assert_error(await upload(http, me, "/v1/cameos", {"challenge_id": ch["id"]}, picture), 422, "invalid_recording")
        assert "no video track" in err["message"], err
    assert (await http.get("/v1/me/cameos", headers=me["headers"])).json()["data"] == []
    # refused on its header: the challenge is still there to answer
    assert await stores.redis.exists(stores.key("cameo", "challenge", me["user"]["id"], ch["id"]))


async def test_a_character_with_a_human_face_needs_liveness(http, recordings):
    me = await signup(http)
    r = await upload(http, me, "/v1/videos/characters", {"name": "Pilot"}, recordings["quiet_face"])
    assert_error(r, 422, "liveness_required")
    ch = await challenge(http, me)
    r = await upload(http, me, "/v1/videos/characters", {"name": "Pilot", "challenge_id": ch["id"]}, recordings["quiet_face"])
    assert_error(r, 422, "liveness_failed")  # nothing is said
    assert (await http.get("/v1/me/cameos", headers=me["headers"])).json()["data"] == []


async def test_the_openai_sdk_creates_and_gets_a_character(api, http, recordings):
    import openai

    me = await signup(http)
    client = openai.AsyncOpenAI(base_url=api.url + "/v1", api_key=me["token"], max_retries=0, timeout=300)
    try:
        made = await client.videos.create_character(name="Toy Robot", video=("robot.mp4", recordings["cat"], "video/mp4"))
        assert made.id.startswith("cameo_") and made.name == "Toy Robot" and made.created_at > 0
        got = await client.videos.get_character(made.id)
        assert (got.id, got.name, got.created_at) == (made.id, made.name, made.created_at)
        with pytest.raises(openai.NotFoundError):
            await client.videos.get_character(MISSING)
        with pytest.raises(openai.UnprocessableEntityError) as exc:
            await client.videos.create_character(name="Face", video=("face.mp4", recordings["quiet_face"], "video/mp4"))
        assert exc.value.code == "liveness_required"
        ch = await challenge(http, me)
        with pytest.raises(openai.UnprocessableEntityError) as exc:  # the challenge travels as an extra form field
            await client.videos.create_character(
                name="Face", video=("face.mp4", recordings["quiet_face"], "video/mp4"), extra_body={"challenge_id": ch["id"]}
            )
        assert exc.value.code == "liveness_failed"
    finally:
        await client.close()


# --- reading and changing a cameo ---------------------------------------------------------------


async def test_read_list_and_change(http, stores, media):
    me, other = await signup(http), await signup(http)
    mine = await make_cameo(stores, media, me)
    sunny = await make_cameo(stores, media, me, kind="character", mention="sunny")
    r = await http.get(f"/v1/cameos/{mine['id']}", headers=me["headers"])
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["object"] == "cameo" and view["kind"] == "human" and view["mention"] == f"@{me['user']['handle'].lower()}"
    assert view["owner"]["id"] == me["user"]["id"] and view["permission"] == "only_me" and view["paused"] is False
    assert view["preferences"] == [] and view["restrictions"] == [] and view["my_grant"] is None and view["face"]
    listed = (await http.get("/v1/me/cameos", headers=me["headers"])).json()["data"]
    assert [c["id"] for c in listed] == [mine["id"], sunny["id"]]
    assert listed[1]["mention"] == f"@{me['user']['handle'].lower()}.sunny"

    change = {"permission": "everyone", "paused": True, "preferences": ["always wearing a red scarf"], "restrictions": ["political", "swearing"], "name": "Me, mostly"}
    r = await http.patch(f"/v1/cameos/{mine['id']}", json=change, headers=me["headers"])
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in change} == change
    # others see it without the preferences
    seen = (await http.get(f"/v1/cameos/{mine['id']}", headers=other["headers"])).json()
    assert seen["preferences"] is None and seen["restrictions"] == ["political", "swearing"] and seen["permission"] == "everyone"
    # an empty change changes nothing
    assert (await http.patch(f"/v1/cameos/{mine['id']}", json={}, headers=me["headers"])).json()["name"] == "Me, mostly"

    bad = [
        {"permission": "friends"}, {"paused": "yes"}, {"restrictions": ["nope"]}, {"restrictions": ["political", "political"]},
        {"preferences": ["x"] * 6}, {"preferences": ["a" * 201]}, {"preferences": ["two\nlines"]}, {"preferences": [" "]},
        {"name": ""}, {"name": "x" * 51}, {"owner_id": other["user"]["id"]}, {"embedding": [0.0]},
        # a right-to-left override, an isolate, C1 controls and a name of zero-width spaces only
        # (the rule of every other name shown to others, core.text)
        {"name": "Ada \u202egnp.exe"}, {"preferences": ["smiling \u2066always"]}, {"name": "a\x85b"}, {"name": "\u200b\u200b"},
    ]
    for body in bad:
        assert_error(await http.patch(f"/v1/cameos/{mine['id']}", json=body, headers=me["headers"]), 400)
    for body, field in (({"name": "Ada \u202egnp.exe"}, "name"), ({"preferences": ["ok", "\u200b"]}, "preferences")):
        err = assert_error(await http.patch(f"/v1/cameos/{mine['id']}", json=body, headers=me["headers"]), 400, "invalid_request")
        assert [d["field"] for d in err["details"]] == [field], err  # the field is named, as every field error names it
    r = await http.patch(f"/v1/cameos/{mine['id']}", json={"preferences": ["always nude"]}, headers=me["headers"])
    assert_error(r, 422, "preference_refused")
    assert (await http.get(f"/v1/cameos/{mine['id']}", headers=me["headers"])).json()["preferences"] == ["always wearing a red scarf"]


async def test_a_block_hides_a_cameo(http, stores, media):
    me, pest = await signup(http), await signup(http)
    mine = await make_cameo(stores, media, me, permission="everyone")
    assert (await http.get(f"/v1/cameos/{mine['id']}", headers=pest["headers"])).status_code == 200
    as_character = (await http.get(f"/v1/videos/characters/{mine['id']}", headers=pest["headers"])).json()  # a person's cameo too
    assert as_character["object"] == "character" and as_character["id"] == mine["id"] and as_character["mention"] == "@" + me["user"]["handle"]
    await block(http, me, pest)
    assert_error(await http.get(f"/v1/cameos/{mine['id']}", headers=pest["headers"]), 404, "cameo_not_found")
    assert_error(await http.post(f"/v1/cameos/{mine['id']}/requests", headers=pest["headers"]), 404, "cameo_not_found")
    assert_error(await http.get(f"/v1/videos/characters/{mine['id']}", headers=pest["headers"]), 404)
    assert (await http.get(f"/v1/cameos/{mine['id']}", headers=me["headers"])).status_code == 200


# --- requests and grants, with notifications -------------------------------------------------------


async def test_request_approve_revoke_with_live_notifications(http, stores, media, api):
    owner, fan = await signup(http), await signup(http)
    cameo = await make_cameo(stores, media, owner, permission="approved")
    cid, fan_id = cameo["id"], fan["user"]["id"]
    async with connect(api, owner) as owner_ws, connect(api, fan) as fan_ws:
        r = await http.post(f"/v1/cameos/{cid}/requests", headers=fan["headers"])
        assert r.status_code == 200, r.text
        grant = r.json()
        assert grant["object"] == "cameo.grant" and grant["state"] == "requested" and grant["user"]["id"] == fan_id
        assert grant["owner"]["id"] == owner["user"]["id"] and grant["decided_at"] is None
        pushed = (await next_of_type(owner_ws, "notification"))["data"]
        assert pushed["kind"] == "cameo_request" and pushed["cameo_id"] == cid and pushed["actor"]["id"] == fan_id
        assert (await http.get(f"/v1/cameos/{cid}", headers=fan["headers"])).json()["my_grant"] == "requested"
        # asking again is the same request, and notifies nobody
        assert (await http.post(f"/v1/cameos/{cid}/requests", headers=fan["headers"])).json()["id"] == grant["id"]

        incoming = (await http.get("/v1/me/cameo-requests", headers=owner["headers"])).json()
        assert [g["user"]["id"] for g in incoming["data"]] == [fan_id]
        outgoing = (await http.get("/v1/me/cameo-requests", params={"direction": "outgoing"}, headers=fan["headers"])).json()
        assert [g["cameo_id"] for g in outgoing["data"]] == [cid]

        r = await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/approve", headers=owner["headers"])
        assert r.status_code == 200 and r.json()["state"] == "approved" and r.json()["decided_at"]
        pushed = (await next_of_type(fan_ws, "notification"))["data"]
        assert pushed["kind"] == "cameo_approved" and pushed["cameo_id"] == cid
        assert (await resolve.check_prompt_cameos(stores, fan_id, f"@{owner['user']['handle']} bakes bread")).ids == [cid]

        listed = (await http.get(f"/v1/cameos/{cid}/grants", params={"state": "approved"}, headers=owner["headers"])).json()
        assert [g["user"]["id"] for g in listed["data"]] == [fan_id]
        assert (await http.get("/v1/me/cameo-requests", headers=owner["headers"])).json()["data"] == []
        # incoming in another state: the grants of my cameos in it
        for state, fans in (("approved", [fan_id]), ("requested", []), ("revoked", [])):
            page = (await http.get("/v1/me/cameo-requests", params={"state": state}, headers=owner["headers"])).json()
            assert [g["user"]["id"] for g in page["data"]] == fans, (state, page)
        theirs = await http.get("/v1/me/cameo-requests", params={"state": "approved"}, headers=fan["headers"])
        assert theirs.json()["data"] == []  # the fan's own cameos have none: another's grants never show

        assert_error(await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/decline", headers=owner["headers"]), 409, "invalid_grant_state")
        r = await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/revoke", headers=owner["headers"])
        assert r.json()["state"] == "revoked"
        pushed = (await next_of_type(fan_ws, "notification"))["data"]
        assert pushed["kind"] == "cameo_revoked" and pushed["cameo_id"] == cid
    with pytest.raises(Exception) as exc:
        await resolve.check_prompt_cameos(stores, fan_id, f"@{owner['user']['handle']} bakes bread")
    assert exc.value.code == "cameo_permission_denied"
    kinds = [n["kind"] for n in (await notes(http, fan))["data"]]
    assert kinds == ["cameo_revoked", "cameo_approved"]
    assert [n["kind"] for n in (await notes(http, owner))["data"]] == ["cameo_request"]

    # asking again after a revocation, then a decline
    assert (await http.post(f"/v1/cameos/{cid}/requests", headers=fan["headers"])).json()["state"] == "requested"
    assert (await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/decline", headers=owner["headers"])).json()["state"] == "declined"
    assert (await notes(http, fan))["data"][0]["kind"] == "cameo_declined"


async def test_request_rules(http, stores, media):
    owner, fan = await signup(http), await signup(http)
    closed = await make_cameo(stores, media, owner)  # only_me
    assert_error(await http.post(f"/v1/cameos/{closed['id']}/requests", headers=fan["headers"]), 403, "requests_closed")
    assert_error(await http.post(f"/v1/cameos/{MISSING}/requests", headers=fan["headers"]), 404, "cameo_not_found")
    sunny = await make_cameo(stores, media, owner, kind="character", mention="sunny", permission="approved")
    assert_error(await http.post(f"/v1/cameos/{sunny['id']}/requests", headers=owner["headers"]), 400, "own_cameo")
    for action in ("approve", "decline", "revoke"):
        r = await http.post(f"/v1/cameos/{sunny['id']}/grants/{fan['user']['id']}/{action}", headers=owner["headers"])
        assert_error(r, 404, "grant_not_found")
    for params in ({"direction": "sideways"}, {"state": "maybe"}, {"cursor": "x"}, {"limit": 0}, {"limit": 101}):
        errs = [assert_error(await http.get("/v1/me/cameo-requests", params=params, headers=owner["headers"]), 400)]
        if "direction" not in params:
            errs.append(assert_error(await http.get(f"/v1/cameos/{sunny['id']}/grants", params=params, headers=owner["headers"]), 400))
        for err in errs:  # the parameter as the client named it
            if err["code"] == "invalid_request":
                assert [p["field"] for p in err["details"]] == list(params), (params, err)


# --- appearances, and removing a video one appears in ------------------------------------------------


async def test_appearances_list_every_state_and_the_owner_removes_one(http, stores, media, api):
    owner, maker = await signup(http), await signup(http)
    cameo = await make_cameo(stores, media, owner, permission="everyone")
    cid = cameo["id"]
    prompt = f"@{owner['user']['handle']} on a unicycle"
    resolved = await resolve.check_prompt_cameos(stores, maker["user"]["id"], prompt)
    queued = await jobs.create_job(stores, owner_id=maker["user"]["id"], prompt=prompt, model="tiny", width=64, height=64, seconds=1, steps=2)
    draft = await ready_video(stores, maker, prompt=prompt)
    published = await ready_video(stores, maker, prompt=prompt)
    r = await http.post("/v1/posts", json={"video_id": published, "caption": "wheee"}, headers=maker["headers"])
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    from server.cameo_use import record as record_cameo_uses

    for vid in (queued.id, draft, published):
        await record_cameo_uses(stores, resolved, video_id=vid, creator_id=maker["user"]["id"])
    used = [n for n in (await notes(http, owner))["data"] if n["kind"] == "cameo_used"]
    assert {n["video_id"] for n in used} == {queued.id, draft, published} and {n["cameo_id"] for n in used} == {cid}

    r = await http.get(f"/v1/cameos/{cid}/appearances", headers=owner["headers"])
    assert r.status_code == 200, r.text
    rows = {a["video_id"]: a for a in r.json()["data"]}
    assert rows[queued.id]["state"] == "queued" and rows[draft]["state"] == "draft" and rows[draft]["post_id"] is None
    assert rows[published]["state"] == "published" and rows[published]["post_id"] == post_id
    assert all(a["creator"]["id"] == maker["user"]["id"] and a["basis"] == "everyone" for a in rows.values())
    page = (await http.get(f"/v1/cameos/{cid}/appearances", params={"limit": 2}, headers=owner["headers"])).json()
    rest = (await http.get(f"/v1/cameos/{cid}/appearances", params={"cursor": page["next_cursor"]}, headers=owner["headers"])).json()
    assert len(page["data"]) == 2 and [a["video_id"] for a in page["data"] + rest["data"]] == [a["video_id"] for a in r.json()["data"]]

    async with connect(api, maker) as maker_ws:
        r = await http.delete(f"/v1/cameos/{cid}/appearances/{published}", headers=owner["headers"])
        assert r.status_code == 200, r.text
        assert r.json() == {"cameo_id": cid, "video_id": published, "object": "cameo.appearance.deleted", "deleted": True}
        pushed = (await next_of_type(maker_ws, "notification"))["data"]
        assert pushed["kind"] == "cameo_removed" and pushed["video_id"] == published and pushed["actor"]["id"] == owner["user"]["id"]
    assert_error(await http.get(f"/v1/posts/{post_id}", headers=maker["headers"]), 404)
    gone = await http.get(f"/v1/videos/{published}", headers=maker["headers"])
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "video_not_found"  # OpenAI's error shape here
    assert await appearances.of_video(stores, published) == []
    # the queued one is cancelled and gone too
    assert (await http.delete(f"/v1/cameos/{cid}/appearances/{queued.id}", headers=owner["headers"])).status_code == 200
    assert await jobs.get_job(stores, queued.id) is None
    assert_error(await http.delete(f"/v1/cameos/{cid}/appearances/{queued.id}", headers=owner["headers"]), 404, "appearance_not_found")
    left = (await http.get(f"/v1/cameos/{cid}/appearances", headers=owner["headers"])).json()["data"]
    assert [a["video_id"] for a in left] == [draft]


# --- deleting ----------------------------------------------------------------------------------------


async def test_deleting_a_cameo_over_http_leaves_no_trace(http, stores, media, settings):
    owner, fan = await signup(http), await signup(http)
    cameo = await make_cameo(stores, media, owner, permission="approved")
    cid = cameo["id"]
    await http.post(f"/v1/cameos/{cid}/requests", headers=fan["headers"])
    await http.post(f"/v1/cameos/{cid}/grants/{fan['user']['id']}/approve", headers=owner["headers"])
    resolved = await resolve.check_prompt_cameos(stores, fan["user"]["id"], f"@{owner['user']['handle']} sings")
    video = await ready_video(stores, fan)
    await resolve.record_uses(stores, resolved, video_id=video, creator_id=fan["user"]["id"])
    assert (settings.media_root / cid).is_dir()

    r = await http.delete(f"/v1/cameos/{cid}", headers=owner["headers"])
    assert r.status_code == 200, r.text
    assert r.json() == {"id": cid, "object": "cameo.deleted", "deleted": True, "appearances": [video]}

    assert_error(await http.get(f"/v1/cameos/{cid}", headers=owner["headers"]), 404, "cameo_not_found")
    assert (await http.get("/v1/me/cameos", headers=owner["headers"])).json()["data"] == []
    assert not (settings.media_root / cid).exists()
    for name in ("cameos", "cameo_grants", "cameo_reviews", "notifications"):
        found = await stores.db[name].find({"$or": [{"_id": cid}, {"cameo_id": cid}, {"matched_cameo_id": cid}]}).to_list()
        assert found == [], (name, found)
    assert await stores.db["cameos"].count_documents({"owner_id": owner["user"]["id"]}) == 0
    # the video it was used in is still listed for its owner, who can remove it
    listed = (await http.get(f"/v1/cameos/{cid}/appearances", headers=owner["headers"])).json()["data"]
    assert [a["video_id"] for a in listed] == [video]
    # to anyone else the deleted cameo is gone, as an unknown one is: 404, not "someone else's"
    for r in (
        await http.get(f"/v1/cameos/{cid}/appearances", headers=fan["headers"]),
        await http.delete(f"/v1/cameos/{cid}/appearances/{video}", headers=fan["headers"]),
    ):
        assert_error(r, 404, "cameo_not_found")
    assert (await http.delete(f"/v1/cameos/{cid}/appearances/{video}", headers=owner["headers"])).status_code == 200
    assert await stores.db["cameo_appearances"].count_documents({"cameo_id": cid}) == 0
    assert_error(await http.get(f"/v1/cameos/{cid}/appearances", headers=owner["headers"]), 404)
    assert_error(await http.delete(f"/v1/cameos/{cid}", headers=owner["headers"]), 404)


# --- another user's ids on every route ------------------------------------------------------------


async def test_another_users_ids_on_every_route(http, stores, media, recordings):
    owner, fan, intruder = await signup(http), await signup(http), await signup(http)
    cameo = await make_cameo(stores, media, owner, permission="approved")
    cid, fan_id = cameo["id"], fan["user"]["id"]
    await http.post(f"/v1/cameos/{cid}/requests", headers=fan["headers"])
    video = await ready_video(stores, fan)
    resolved = await resolve.check_prompt_cameos(stores, owner["user"]["id"], f"@{owner['user']['handle']} waves")
    await resolve.record_uses(stores, resolved, video_id=video, creator_id=fan["user"]["id"])
    owner_challenge = await challenge(http, owner)
    before = (await http.get(f"/v1/cameos/{cid}", headers=owner["headers"])).json()

    h = intruder["headers"]
    forbidden = [
        await http.patch(f"/v1/cameos/{cid}", json={"permission": "everyone"}, headers=h),
        await http.delete(f"/v1/cameos/{cid}", headers=h),
        await http.get(f"/v1/cameos/{cid}/grants", headers=h),
        await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/approve", headers=h),
        await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/decline", headers=h),
        await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/revoke", headers=h),
        await http.get(f"/v1/cameos/{cid}/appearances", headers=h),
        await http.delete(f"/v1/cameos/{cid}/appearances/{video}", headers=h),
    ]
    for r in forbidden:
        assert_error(r, 403, "not_cameo_owner")
    # the requester cannot answer their own request either
    assert_error(await http.post(f"/v1/cameos/{cid}/grants/{fan_id}/approve", headers=fan["headers"]), 403, "not_cameo_owner")
    # the owner's challenge is not the intruder's
    r = await upload(http, intruder, "/v1/cameos", {"challenge_id": owner_challenge["id"]}, recordings["quiet_face"])
    assert_error(r, 410, "challenge_expired")
    # what others may read shows nothing private
    seen = (await http.get(f"/v1/cameos/{cid}", headers=h)).json()
    assert seen["preferences"] is None and seen["my_grant"] is None
    assert (await http.get(f"/v1/videos/characters/{cid}", headers=h)).json()["id"] == cid
    assert (await http.get("/v1/me/cameos", headers=h)).json()["data"] == []
    assert (await http.get("/v1/me/cameo-requests", headers=h)).json()["data"] == []
    # unknown ids are 404 everywhere
    for r in [
        await http.get(f"/v1/cameos/{MISSING}", headers=h),
        await http.patch(f"/v1/cameos/{MISSING}", json={}, headers=h),
        await http.delete(f"/v1/cameos/{MISSING}", headers=h),
        await http.get(f"/v1/cameos/{MISSING}/grants", headers=h),
        await http.post(f"/v1/cameos/{MISSING}/grants/{fan_id}/approve", headers=h),
        await http.get(f"/v1/cameos/{MISSING}/appearances", headers=h),
        await http.delete(f"/v1/cameos/{MISSING}/appearances/{video}", headers=h),
        await http.get(f"/v1/videos/characters/{MISSING}", headers=h),
    ]:
        assert_error(r, 404, "cameo_not_found")
    # nothing changed
    assert (await http.get(f"/v1/cameos/{cid}", headers=owner["headers"])).json() == before
    assert (await store.get_cameo(stores, cid)) is not None and await jobs.get_job(stores, video) is not None
    grants_now = (await http.get(f"/v1/cameos/{cid}/grants", headers=owner["headers"])).json()["data"]
    assert [g["state"] for g in grants_now] == ["requested"]
    # and every route wants a token
    for method, path in [
        ("POST", "/v1/cameos"), ("GET", f"/v1/cameos/{cid}"), ("PATCH", f"/v1/cameos/{cid}"), ("DELETE", f"/v1/cameos/{cid}"),
        ("GET", "/v1/me/cameos"), ("POST", f"/v1/cameos/{cid}/requests"), ("GET", "/v1/me/cameo-requests"),
        ("GET", f"/v1/cameos/{cid}/grants"), ("POST", f"/v1/cameos/{cid}/grants/{fan_id}/revoke"),
        ("GET", f"/v1/cameos/{cid}/appearances"), ("DELETE", f"/v1/cameos/{cid}/appearances/{video}"),
        ("POST", "/v1/videos/characters"), ("GET", f"/v1/videos/characters/{cid}"),
    ]:
        assert_error(await http.request(method, path), 401)


async def test_concurrent_requests_for_one_cameo_make_one_grant(http, stores, media):
    owner, fan = await signup(http), await signup(http)
    cameo = await make_cameo(stores, media, owner, permission="approved")
    rs = await asyncio.gather(*(http.post(f"/v1/cameos/{cameo['id']}/requests", headers=fan["headers"]) for _ in range(6)))
    assert {r.status_code for r in rs} == {200} and len({r.json()["id"] for r in rs}) == 1
    assert [n["kind"] for n in (await notes(http, owner))["data"]] == ["cameo_request"]


# --- recording a cameo for real: the happy path and one person, one cameo ---------------------------
# These run against an api of their own (a fresh namespace), so that no face
# registered by other tests of the session stands in their way.


@pytest.fixture(scope="module")
def own_api(settings, tmp_root):
    import msgspec

    from tests.procs import start_api

    mine = msgspec.structs.replace(settings, namespace="t" + uuid.uuid4().hex[:10])
    proc = start_api(mine, tmp_root / "logs-cameos")
    yield proc, mine
    proc.stop()


@pytest.fixture
async def own_http(own_api):
    proc, _ = own_api
    async with httpx.AsyncClient(base_url=proc.url, timeout=300) as client:
        yield client


# Digit strings the speech check accepts from this voice: the challenges below are set to one of
# them, so that the test does not ride on the accept rate of whatever digits the server drew
# (tests/cameos/test_liveness.py and docs/CAMEOS.md are about the recogniser; this is about the flow).
KNOWN_DIGITS = ("48213", "5907", "4821")


async def fixed_challenge(http, stores, user: dict, n: int = 0) -> dict:
    """A challenge whose digits are set to ``KNOWN_DIGITS[n]`` (its moves stay as drawn)."""
    ch = await challenge(http, user)
    ch["digits"] = KNOWN_DIGITS[n % len(KNOWN_DIGITS)]
    key = stores.key("cameo", "challenge", user["user"]["id"], ch["id"])
    await stores.redis.set(key, json.dumps(ch), keepttl=True)
    return ch


def live_recording(folder, ch: dict, *, person: str = "astronaut", container: str = "mp4") -> bytes:
    """A capture answering challenge ``ch``: ``person`` turns through its moves and says its digits."""
    from tests.cameos.speech_clips import speak_digits

    audio = speak_digits(ch["digits"], voice="en-us", rate="normal", noise_db=35.0, lead_s=1.0, tail_s=0.6)
    path = str(folder / f"{ch['id']}.{container}")
    make_capture(path, moves=ch["moves"], audio=audio, sample_rate=16000, container=container, variant="live", person=person)
    return open(path, "rb").read()


async def test_recording_a_cameo_and_one_person_one_cameo(own_http, own_api, tmp_path):
    from cameos import identity
    from core.stores import open_stores

    _, mine = own_api
    http = own_http
    own_stores = open_stores(mine)
    try:
        alice = await signup(http)
        ch = await fixed_challenge(http, own_stores, alice, 0)
        r = await upload(http, alice, "/v1/cameos", {"challenge_id": ch["id"], "name": "Alice"}, live_recording(tmp_path, ch))
        assert r.status_code == 201, r.text
        cameo = r.json()
        assert cameo["kind"] == "human" and cameo["face"] and cameo["name"] == "Alice" and cameo["permission"] == "only_me"
        assert cameo["mention"] == f"@{alice['user']['handle'].lower()}" and cameo["owner"]["id"] == alice["user"]["id"]
        stored = await store.get_cameo(own_stores, cameo["id"])
        assert 3 <= stored.frames <= 5 and stored.voice
        doc = await own_stores.db["cameos"].find_one({"_id": cameo["id"]})
        assert len(doc["embedding"]) == 128
        media = open_media_store(mine)
        assert (await store.reference_frame(media, stored, 1))[:2] == b"\xff\xd8"
        assert (await store.voice_sample(media, stored))[:4] == b"RIFF"
        assert [c["id"] for c in (await http.get("/v1/me/cameos", headers=alice["headers"])).json()["data"]] == [cameo["id"]]

        # a second cameo of one's own face is refused before anything is decoded
        ch = await fixed_challenge(http, own_stores, alice, 1)
        r = await upload(http, alice, "/v1/cameos", {"challenge_id": ch["id"]}, live_recording(tmp_path, ch))
        assert_error(r, 409, "cameo_exists")

        # the same face on another account: refused and logged for review
        mallory = await signup(http)
        ch = await fixed_challenge(http, own_stores, mallory, 2)
        r = await upload(http, mallory, "/v1/cameos", {"challenge_id": ch["id"]}, live_recording(tmp_path, ch))
        assert_error(r, 409, "likeness_taken")
        [review] = await identity.reviews_for(own_stores, cameo["id"])
        assert review["user_id"] == mallory["user"]["id"] and review["distance"] < identity.MATCH_DISTANCE
        assert (await http.get("/v1/me/cameos", headers=mallory["headers"])).json()["data"] == []

        # a character with a human face answers a challenge too, and is held to the same identity rule
        ch = await fixed_challenge(http, own_stores, mallory, 3)
        r = await upload(http, mallory, "/v1/videos/characters", {"name": "Captain", "challenge_id": ch["id"]}, live_recording(tmp_path, ch))
        assert_error(r, 409, "likeness_taken")
        # ... while its owner may make one of herself (a WebM, as a browser records)
        ch = await fixed_challenge(http, own_stores, alice, 4)
        video = live_recording(tmp_path, ch, container="webm")
        r = await upload(http, alice, "/v1/videos/characters", {"name": "Captain", "challenge_id": ch["id"]}, video)
        assert r.status_code == 200, r.text
        made = (await http.get(f"/v1/cameos/{r.json()['id']}", headers=alice["headers"])).json()
        assert made["kind"] == "character" and made["face"] and made["mention"].endswith(".captain")
    finally:
        await own_stores.close()
        await erase_recorded_faces(mine)
