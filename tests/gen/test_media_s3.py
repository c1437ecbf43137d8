"""The S3 media store against a real S3-compatible server (moto's, over
HTTP on a local port): puts, sizes, ranged reads, deletes; then an api
process whose FABULA_MEDIA_URL points at the bucket serves and deletes a
video's media from there."""

from __future__ import annotations

import io

import httpx
import msgspec
import numpy as np
import pytest

from gen import jobs
from gen.encode import encode_mp4, write_thumbnail
from core.media_store import S3MediaStore, open_media_store
from tests.conftest import signup
from tests.procs import start_api

moto_server = pytest.importorskip("moto.server")

VID = "video_01js3testaaaaaaaaaaaaaaaa"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_url():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def make_bucket(s3_url: str, name: str):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return client


def keys(client, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))


async def read_all(store, vid, variant, start=0, end=None) -> bytes:
    return b"".join([chunk async for chunk in store.read(vid, variant, start, end)])


async def test_put_size_ranged_read_and_delete(s3_url, tmp_path):
    client = make_bucket(s3_url, "media-unit")
    store = S3MediaStore("media-unit", "fab/media", endpoint_url=s3_url, region="us-east-1")
    assert await store.size(VID, "video") is None
    with pytest.raises(FileNotFoundError):
        await read_all(store, VID, "video")

    data = bytes(range(256)) * 3000  # 768,000 bytes: several read chunks
    src = tmp_path / "clip.mp4"
    src.write_bytes(data)
    assert await store.put_file(VID, "video", src) == len(data)
    assert await store.put_bytes(VID, "thumbnail", b"\xff\xd8 jpeg-ish") == 11
    assert await store.put_bytes("video_other", "video", b"keep me") == 7
    assert keys(client, "media-unit") == [f"fab/media/{VID}/thumbnail.jpg", f"fab/media/{VID}/video.mp4", "fab/media/video_other/video.mp4"]
    head = client.head_object(Bucket="media-unit", Key=f"fab/media/{VID}/video.mp4")
    assert head["ContentType"] == "video/mp4"

    assert await store.size(VID, "video") == len(data)
    assert await read_all(store, VID, "video") == data
    assert await read_all(store, VID, "video", 10, 99) == data[10:100]
    assert await read_all(store, VID, "video", len(data) - 16) == data[-16:]
    assert await read_all(store, VID, "video", 700_000, 10**9) == data[700_000:]
    assert await store.get_bytes(VID, "thumbnail") == b"\xff\xd8 jpeg-ish"
    assert await store.get_bytes(VID, "spritesheet") is None
    dest = tmp_path / "back.mp4"
    assert await store.fetch_file(VID, "video", dest) and dest.read_bytes() == data

    await store.delete(VID)
    assert keys(client, "media-unit") == ["fab/media/video_other/video.mp4"]
    assert await store.size(VID, "video") is None
    await store.delete(VID)  # idempotent
    with pytest.raises(ValueError):
        await store.delete("../escape")


async def test_empty_object_and_unknown_variant(s3_url):
    make_bucket(s3_url, "media-edge")
    store = S3MediaStore("media-edge", endpoint_url=s3_url, region="us-east-1")
    assert await store.put_bytes(VID, "reference", b"") == 0
    assert await store.size(VID, "reference") == 0
    assert await read_all(store, VID, "reference") == b""
    with pytest.raises(ValueError, match="variant"):
        await store.size(VID, "audio")


# --- an api process serving media from S3 ------------------------------------------


@pytest.fixture(scope="module")
def s3_api(settings, tmp_root, s3_url, api):
    make_bucket(s3_url, "media-api")
    s3_settings = msgspec.structs.replace(settings, media_url="s3://media-api/clips", s3_endpoint_url=s3_url, s3_region="us-east-1")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        proc = start_api(s3_settings, tmp_root / "logs")
    yield proc, s3_settings
    proc.stop()


def frames(n: int = 9) -> np.ndarray:
    ramp = np.linspace(0, 255, n, dtype=np.uint8)
    out = np.zeros((n, 64, 64, 3), np.uint8)
    out[..., 0] = ramp[:, None, None]
    out[..., 1] = 90
    return out


async def completed_job(stores, owner_id: str) -> jobs.Job:
    """A job finished by hand (no worker runs it): its media go in by the test."""
    job = await jobs.create_job(stores, owner_id=owner_id, prompt="a boat on a lake", model="tiny", width=64, height=64, seconds=1, steps=2)
    assert await jobs.begin_attempt(stores, job.id, "test-hand", 3)
    media = jobs.Media(bytes=0, frames=9, fps=8, width=64, height=64)
    assert await jobs.complete_attempt(stores, job.id, "test-hand", 1, media)
    return job


async def test_api_serves_ranges_spritesheet_and_deletes_from_s3(s3_api, stores, tmp_path):
    proc, s3_settings = s3_api
    import boto3

    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url, region_name="us-east-1")
    store = open_media_store(s3_settings)
    async with httpx.AsyncClient(base_url=proc.url, timeout=60) as http:
        me = await signup(http)
        job = await completed_job(stores, me["user"]["id"])
        encode_mp4(frames(), 8, tmp_path / "v.mp4")
        write_thumbnail(frames(1)[0], tmp_path / "t.jpg")
        await store.put_file(job.id, "video", tmp_path / "v.mp4")
        await store.put_file(job.id, "thumbnail", tmp_path / "t.jpg")
        data = (tmp_path / "v.mp4").read_bytes()

        whole = await http.get(f"/v1/videos/{job.id}/content", headers=me["headers"])
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.content == data and whole.headers["accept-ranges"] == "bytes"
        part = await http.get(f"/v1/videos/{job.id}/content", headers={**me["headers"], "Range": "bytes=10-99"})
        assert part.status_code == 206 and part.content == data[10:100]
        assert part.headers["content-range"] == f"bytes 10-99/{len(data)}"
        bad = await http.get(f"/v1/videos/{job.id}/content", headers={**me["headers"], "Range": f"bytes={len(data)}-"})
        assert bad.status_code == 416 and bad.json()["error"]["code"] == "range_not_satisfiable"

        sheet = await http.get(f"/v1/videos/{job.id}/content", params={"variant": "spritesheet"}, headers=me["headers"])
        assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/jpeg", sheet.text
        from PIL import Image

        assert Image.open(io.BytesIO(sheet.content)).format == "JPEG"
        assert f"clips/{job.id}/spritesheet.jpg" in keys(client, "media-api")  # made once, kept in the bucket

        r = await http.delete(f"/v1/videos/{job.id}", headers=me["headers"])
        assert r.status_code == 200 and r.json() == {"id": job.id, "deleted": True, "object": "video.deleted"}
        assert not [k for k in keys(client, "media-api") if job.id in k]
        assert (await http.get(f"/v1/videos/{job.id}", headers=me["headers"])).status_code == 404
