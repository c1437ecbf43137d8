"""The public check (POST /v1/provenance/check, server.routes.provenance):
a served video names its video by manifest and key, a changed byte makes
the manifest invalid, an attacked copy is still named, an unrelated clip
is not, a deleted video answers "removed", and the upload limits hold.
Signed out is allowed (limited per address)."""

from __future__ import annotations

import io

import re
import uuid

import numpy as np
import pytest

from gen.provenance import attacks, phash
from gen.provenance.phash_index import HashIndex, match_copy
from tests.conftest import signup
from tests.gen.test_provenance_marks import FPS, SECONDS, SIZE, decode_frames, wait_completed


@pytest.fixture(scope="module")
async def http_module(api):
    import httpx

    async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
async def served(http_module, worker):
    http = http_module
    me = await signup(http, "chk" + uuid.uuid4().hex[:8])
    r = await http.post("/v1/videos", json={"prompt": "a lighthouse in fog", "seconds": SECONDS, "size": SIZE, "seed": 23}, headers=me["headers"])
    assert r.status_code == 200, r.text
    video = await wait_completed(http, me["headers"], r.json()["id"])
    mp4 = (await http.get(f"/v1/videos/{video['id']}/content", headers=me["headers"])).content
    return {"id": video["id"], "mp4": mp4, "headers": me["headers"], "handle": me["user"]["handle"]}


async def check(http, data: bytes, name: str = "copy.mp4", headers=None):
    return await http.post("/v1/provenance/check", files={"file": (name, data, "application/octet-stream")}, headers=headers or {})


async def test_served_video_is_named_by_manifest_key_and_hash(http_module, served):
    r = await check(http_module, served["mp4"])  # signed out
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["from_here"] and answer["video"]["video_id"] == served["id"]
    assert answer["manifest"]["state"] == "valid" and answer["manifest"]["video"]["video_id"] == served["id"]
    assert answer["watermark"]["found"] and answer["watermark"]["video"]["video_id"] == served["id"]
    assert answer["watermark"]["bit_confidence"] > 0.8
    assert [p["video"]["video_id"] for p in answer["perceptual"]][:1] == [served["id"]]


async def test_a_public_post_is_named_with_its_author_and_caption(http_module, served):
    """Unpublished, the video is named by its id alone; once public, the answer
    names the post, its author's handle and its caption, so the /verify page
    can say whose it is."""
    unpublished = (await check(http_module, served["mp4"])).json()["video"]
    assert unpublished == {"video_id": served["id"], "state": "available", "post_id": None, "author": None, "caption": None}
    r = await http_module.post("/v1/posts", json={"video_id": served["id"], "caption": "fog at dawn"}, headers=served["headers"])
    assert r.status_code in (200, 201), r.text
    answer = (await check(http_module, served["mp4"])).json()
    named = {"video_id": served["id"], "state": "available", "post_id": r.json()["id"], "author": served["handle"], "caption": "fog at dawn"}
    assert answer["video"] == named and answer["manifest"]["video"] == named and answer["watermark"]["video"] == named


async def test_tampered_file_reads_manifest_invalid(http_module, served):
    data = bytearray(served["mp4"])
    at = data.find(b"mdat") + 200
    data[at] ^= 0x01
    r = await check(http_module, bytes(data))
    assert r.status_code == 200, r.text
    assert r.json()["manifest"]["state"] == "invalid"


async def test_attacked_copy_is_identified(http_module, served):
    # scaled to half size (as an editor scales: area-averaged) and re-encoded,
    # then uploaded again at CRF 28. Plain decimation (every other pixel, no
    # filter) is not an attack the marks claim to survive on the tiny
    # preset's noisy frames: it aliases them (docs/PROVENANCE.md).
    copy = attacks.h264(attacks.downscale50(decode_frames(served["mp4"]), FPS), FPS, crf=28)
    r = await check(http_module, copy)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["manifest"]["state"] == "absent"
    named = {answer["watermark"]["video"] and answer["watermark"]["video"]["video_id"]} | {p["video"]["video_id"] for p in answer["perceptual"]}
    assert served["id"] in named and answer["video"]["video_id"] == served["id"]


async def test_unrelated_video_is_not_identified(http_module, served):
    rng = np.random.default_rng(5)
    base = rng.integers(0, 255, size=(8, 8, 3)).astype(np.uint8)
    import cv2

    frames = np.stack([np.roll(cv2.resize(base, (256, 256), interpolation=cv2.INTER_CUBIC), i * 4, axis=1) for i in range(16)])
    r = await check(http_module, attacks.h264(frames, FPS))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert not answer["from_here"] and answer["video"] is None and answer["perceptual"] == []
    assert answer["watermark"]["video"] is None


async def test_picture_is_checked(http_module, served):
    import io

    from PIL import Image

    frame = decode_frames(served["mp4"])[10]
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    r = await check(http_module, buf.getvalue(), "frame.png")
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "image" and r.json()["video"]["video_id"] == served["id"]


async def test_a_manifest_from_another_signer_names_no_video_here(http_module, served, tmp_path):
    """Anyone can sign a file with a chain of their own and write one of this
    server's video ids in it: such a manifest is read (valid, untrusted, its
    claims shown) but names nothing here, so the file is not "from here" and
    the id's state is not told."""
    from gen.provenance import keys, manifest
    from gen.provenance.manifest import Claims
    from tests.gen.test_provenance_marks import tiny_jpeg

    foreign = keys.ensure_dev_chain(tmp_path / "elsewhere")
    signed = manifest.sign_bytes(tiny_jpeg(), "image/jpeg", Claims(video_id=served["id"], model="tiny"), foreign)
    r = await check(http_module, signed, "forged.jpg")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["manifest"]["state"] == "valid" and answer["manifest"]["trusted"] is False, answer["manifest"]
    assert answer["manifest"]["claims"]["generation"]["video_id"] == served["id"]  # shown as it was claimed
    assert answer["manifest"]["video"] is None and answer["manifest"]["confidence"] == 0.5
    assert not answer["from_here"] and answer["video"] is None, answer


async def test_corrupt_oversize_and_unknown_files(http_module, api):
    junk = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 5000
    r = await check(http_module, junk)
    assert r.status_code == 422, r.text
    r = await check(http_module, b"hello, this is text")
    assert r.status_code == 415, r.text
    r = await check(http_module, b"", "empty.mp4")  # the field is there, with nothing in it
    assert r.status_code == 422 and r.json()["error"]["code"] == "unreadable_media", r.text
    assert "empty" in r.json()["error"]["message"]
    from tests.gen.test_provenance_marks import tiny_jpeg

    r = await check(http_module, tiny_jpeg()[:300], "cut.jpg")  # a picture cut short: no talk of a reference here
    assert r.status_code == 422 and r.json()["error"]["code"] == "unreadable_media", r.text
    assert "truncated" in r.json()["error"]["message"] and "reference" not in r.json()["error"]["message"], r.text
    # a body declared larger than the cap is refused before it is sent
    import asyncio
    from urllib.parse import urlsplit

    where = urlsplit(api.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    writer.write(
        b"POST /v1/provenance/check HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        + f"Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode()
        + b"--b\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert status_line.split()[1] == b"413", status_line


def live_webm(seconds: int, fps: int = 1, size: int = 64) -> bytes:
    """A WebM written as a live recorder writes it: no length in its header."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), (i * 7) % 255, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


async def test_a_video_whose_header_has_no_length_is_measured_before_it_is_decoded(http_module):
    """The 180 s limit held only for files whose header says their length: a
    live-recorded WebM of 190 s was decoded and checked."""
    long_one = live_webm(190)
    import av

    with av.open(io.BytesIO(long_one)) as container:
        assert container.duration is None  # the case: nothing in the header
    r = await check(http_module, long_one, "live.webm")
    err = r.json()["error"]
    assert r.status_code == 422 and err["code"] == "too_large_to_check", r.text
    assert err["details"]["seconds"] > 180
    short_one = await check(http_module, live_webm(20), "short.webm")
    assert short_one.status_code == 200 and short_one.json()["from_here"] is False, short_one.text


async def test_an_animated_webp_is_checked_as_a_picture(http_module):
    """FFmpeg reads no animated WebP: it was refused as unreadable."""
    from PIL import Image

    frames = [Image.fromarray(np.full((64, 64, 3), c, np.uint8)) for c in (10, 120, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    r = await check(http_module, buf.getvalue(), "moving.webp")
    assert r.status_code == 200 and r.json()["kind"] == "image" and r.json()["from_here"] is False, r.text


async def test_removed_video_answers_removed(http_module, served, stores):
    r = await http_module.delete(f"/v1/videos/{served['id']}", headers=served["headers"])
    assert r.status_code == 200, r.text
    r = await check(http_module, served["mp4"])
    answer = r.json()
    assert answer["from_here"] and answer["video"] == {"video_id": served["id"], "state": "removed", "post_id": None, "author": None, "caption": None}
    assert answer["watermark"]["video"]["state"] == "removed"



async def test_verify_page(http_module):
    r = await http_module.get("/verify")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8" and "/v1/provenance/check" not in r.text
    assert "/verify/verify.js" in r.text
    js = await http_module.get("/verify/verify.js")
    assert js.status_code == 200 and "/v1/provenance/check" in js.text
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    # the page names its icon (a browser asks for /favicon.ico otherwise, a 404 in its console)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', r.text)
    assert icon, r.text[:500]
    got = await http_module.get(icon[1])
    assert got.status_code == 200 and got.headers["content-type"].startswith("image/svg+xml"), (icon[1], got.status_code)


def test_index_finds_near_hashes_and_no_unrelated_ones():
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 2**63, size=20000, dtype=np.uint64) * np.uint64(2)
    index = HashIndex()
    index.add_many([f"v{i // 4}" for i in range(len(stored))], stored)
    target = [int(h) ^ (1 << 5) ^ (1 << 40) for h in stored[8:12]]  # video v2, two bits off
    matches = match_copy(index, target)
    assert matches[0].video_id == "v2" and matches[0].identified and matches[0].best_distance == 2
    assert all(m.video_id == "v2" for m in matches)
    assert phash.hamming(0, 2**64 - 1) == 64
