"""Data export (GET /v1/me/export): a zip of the signed-in user's own data,
one JSON file per kind, and their videos; nobody else's; limited per user."""

from __future__ import annotations

import io
import json
import os
import zipfile

import httpx
import pytest

from core.media_store import LocalMediaStore, open_media_store
from gen import jobs
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_posts_feed import follow, publish


async def made_video(stores, settings, user: dict) -> str:
    """A completed video of ``user`` with its media, as a worker leaves it (no worker needed)."""
    job = await jobs.create_job(
        stores, owner_id=user["user"]["id"], prompt="a lantern at dusk", model="tiny", width=64, height=64, seconds=1, steps=2
    )
    media = open_media_store(settings)
    await media.put_bytes(job.id, "video", os.urandom(300_000))  # (more than one chunk of a read)
    await media.put_bytes(job.id, "thumbnail", b"\xff\xd8" + os.urandom(1000))
    done = {"status": "completed", "progress": 100, "media": {"bytes": 300_000, "frames": 8, "fps": 8, "width": 64, "height": 64}}
    await stores.db["videos"].update_one({"_id": job.id}, {"$set": done})
    return job.id


async def export(http, user: dict):
    return await http.get("/v1/me/export", headers=user["headers"])


async def test_export_holds_my_data_and_videos_only(http, stores, settings):
    me, other = await signup(http), await signup(http)
    video, their_video = await made_video(stores, settings, me), await made_video(stores, settings, other)
    post = await publish(http, me, video, "my caption")
    their_post = await publish(http, other, their_video, "their caption")
    await follow(http, me, other)
    assert (await http.post(f"/v1/posts/{their_post['id']}/like", headers=me["headers"])).status_code == 200
    r = await http.post(f"/v1/posts/{their_post['id']}/comments", json={"text": "lovely"}, headers=me["headers"])
    assert r.status_code in (200, 201), r.text

    r = await export(http, me)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    names = set(archive.namelist())
    data = {name: json.loads(archive.read(name)) for name in names if name.endswith(".json")}
    assert data["account.json"]["id"] == me["user"]["id"] and data["account.json"]["handle"] == me["user"]["handle"]
    assert [p["_id"] for p in data["posts.json"]] == [post["id"]]
    assert [v["_id"] for v in data["videos.json"]] == [video]
    assert [lk["post_id"] for lk in data["likes.json"]] == [their_post["id"]]
    assert [c["text"] for c in data["comments.json"]] == ["lovely"]
    assert [f["followee"] for f in data["following.json"]] == [other["user"]["id"]]
    assert f"videos/{video}.jpg" in names
    mp4 = (await http.get(f"/v1/videos/{video}/content", headers=me["headers"])).content
    assert archive.read(f"videos/{video}.mp4") == mp4
    everything = b"".join(archive.read(n) for n in names if n.endswith(".json")).decode()
    assert "password_hash" not in everything and "embedding" not in everything
    assert their_video not in names and f"videos/{their_video}.mp4" not in names
    assert their_post["id"] not in json.dumps(data["posts.json"])

    # the other user's export is theirs
    r = await export(http, other)
    theirs = zipfile.ZipFile(io.BytesIO(r.content))
    assert json.loads(theirs.read("account.json"))["id"] == other["user"]["id"]
    assert f"videos/{video}.mp4" not in theirs.namelist()


async def test_export_needs_a_token_and_is_limited(http, settings):
    assert_error(await http.get("/v1/me/export"), 401)
    me = await signup(http)
    allowed = int(settings.rate_export.split("/")[0])
    for _ in range(allowed):
        assert (await export(http, me)).status_code == 200
    r = await export(http, me)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1
    assert (await export(http, await signup(http))).status_code == 200  # per user


async def test_openapi_declares_export(http):
    spec = (await http.get("/schema/openapi.json")).json()
    op = spec["paths"]["/v1/me/export"]["get"]
    assert {"200", "401", "429"} <= set(op["responses"])
    assert "application/zip" in op["responses"]["200"]["content"]


async def test_export_writes_64_bit_numbers_as_numbers(http):
    """A seed of 2**31 or more (seeds go up to 2**32 - 1) is stored as a BSON
    int64, which the driver reads as ``bson.Int64``: the export wrote the
    entries before the videos and then broke off mid-stream."""
    me = await signup(http)
    seed = 2**32 - 5
    r = await http.post("/v1/videos", json={"prompt": "a lantern at dusk", "seconds": "1", "size": "64x64", "seed": seed}, headers=me["headers"])
    assert r.status_code == 200, r.text
    r = await export(http, me)
    assert r.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.testzip() is None
    assert [v["seed"] for v in json.loads(archive.read("videos.json"))] == [seed]
    assert "cameo_appearances.json" in archive.namelist()  # the last entry: the stream ran to its end


async def local_clip(http, stores, settings):
    """A new user, their finished video, and where the local store keeps its MP4 (to break it)."""
    me = await signup(http)
    video = await made_video(stores, settings, me)
    media = open_media_store(settings)
    if not isinstance(media, LocalMediaStore):
        pytest.skip("breaks the files of the local media store")
    return me, video, media.path(video, "video")


async def test_a_media_store_that_cannot_be_read_is_a_503_before_the_zip_starts(http, stores, settings):
    """The store fails (a file that links to itself: reading it is ELOOP, not
    a missing file): 503 ``media_unavailable`` with the error body, not a
    200 whose zip breaks off; the store mended, the export works."""
    me, video, path = await local_clip(http, stores, settings)
    kept = path.read_bytes()
    path.unlink()
    path.symlink_to(path.name)
    try:
        r = await export(http, me)
        err = assert_error(r, 503, "media_unavailable")
        assert str(settings.media_root) not in err["message"], err
    finally:
        path.unlink()
        path.write_bytes(kept)
    r = await export(http, me)
    assert r.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(r.content)).read(f"videos/{video}.mp4") == kept


async def test_a_video_that_fails_while_the_zip_streams_cuts_the_answer(http, stores, settings):
    """A file the store sizes but cannot open (a folder where the MP4 was)
    fails after the 200 is sent: the connection ends without the chunked
    body's last chunk, so a client knows the zip is not whole."""
    me, video, path = await local_clip(http, stores, settings)
    path.unlink()
    path.mkdir()
    try:
        async with http.stream("GET", "/v1/me/export", headers=me["headers"]) as r:
            assert r.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                await r.aread()
    finally:
        path.rmdir()
    assert (await http.get("/healthz")).status_code == 200  # the api lives on
