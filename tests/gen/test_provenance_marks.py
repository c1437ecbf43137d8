"""The marks on every output (gen.provenance): a finished job's served video
carries the moving label and the invisible key, its MP4 and thumbnail carry a
valid C2PA manifest with the expected assertions, a changed byte breaks it,
the key survives a CRF-28 re-encode and a 2 s excerpt, and videos that were
not marked (or marked for another video) do not name this one.

The end-to-end test runs the real tiny pipeline in the session's worker
process through the api, as the other end-to-end tests do."""

from __future__ import annotations

import asyncio
import io
import time
import uuid

import numpy as np
import pytest

from core.settings import Settings
from gen.provenance import attacks, invisible, key_code, keys, manifest, registry, visible
from gen.provenance.manifest import CameoConsent, Claims
from tests.conftest import signup

SIZE = "256x256"  # the mark's chips are 1/64 of the short side: 4 px here (see docs/PROVENANCE.md)
SECONDS = "3"  # 25 frames at the tiny preset's 8 fps: room for a 2 s excerpt
FPS = 8


def decode_frames(data: bytes) -> np.ndarray:
    return attacks.decode(data)


async def wait_completed(http, headers, video_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = await http.get(f"/v1/videos/{video_id}", headers=headers)
        assert r.status_code == 200, r.text
        video = r.json()
        if video["status"] in ("completed", "failed"):
            assert video["status"] == "completed", video
            return video
        assert time.monotonic() < deadline, f"{video_id} still {video['status']} after {timeout} s"
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def served(http_module, worker):
    """One finished job: its creator, id, served MP4 and thumbnail."""
    http = http_module
    handle = "prov" + uuid.uuid4().hex[:8]
    me = await signup(http, handle)
    r = await http.post("/v1/videos", json={"prompt": "a kite over a beach", "seconds": SECONDS, "size": SIZE, "seed": 11}, headers=me["headers"])
    assert r.status_code == 200, r.text
    video = await wait_completed(http, me["headers"], r.json()["id"])
    mp4 = (await http.get(f"/v1/videos/{video['id']}/content", headers=me["headers"])).content
    thumb = (await http.get(f"/v1/videos/{video['id']}/content", params={"variant": "thumbnail"}, headers=me["headers"])).content
    assert mp4[4:8] == b"ftyp" and thumb[:3] == b"\xff\xd8\xff"
    return {"handle": handle, "id": video["id"], "mp4": mp4, "thumb": thumb}


@pytest.fixture(scope="module")
async def http_module(api):
    import httpx

    # generous: a fresh api's first create may load the prompt checks' models
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as client:
        yield client


# --- the served video ---------------------------------------------------------


async def test_served_video_carries_its_key(served, stores):
    reading = invisible.read_key(decode_frames(served["mp4"]))
    assert reading.key is not None, reading
    assert await registry.video_for_key(stores, reading.key) == served["id"]
    assert await registry.key_of(stores, served["id"]) == reading.key
    assert reading.bits_correct_estimate > 0.9 and reading.bit_confidence > 0.8


async def test_key_survives_crf28_and_an_excerpt(served, stores):
    frames = decode_frames(served["mp4"])
    key = await registry.key_of(stores, served["id"])
    for attack in (attacks.crf28, attacks.excerpt2s):
        copy = attack(frames, FPS)
        reading = invisible.read_key(copy)
        assert reading.key == key, (attack.__name__, reading)
    assert len(attacks.excerpt2s(frames, FPS)) == 2 * FPS


def label_match(frame: np.ndarray, text: str, t: float) -> float:
    """How well ``frame`` matches the label drawn where it should be at ``t``:
    the correlation of the frame's brightness with the label's ink there."""
    short = min(frame.shape[:2])
    mark = visible.VisibleMark()
    patch = visible.render_label(text, round(short * mark.size))
    margin = round(short * visible.MARGIN)
    ph, pw = patch.shape[:2]
    x, y = visible.path_position(t, frame.shape[1] - 2 * margin - pw, frame.shape[0] - 2 * margin - ph)
    region = frame[y + margin : y + margin + ph, x + margin : x + margin + pw].astype(np.float64).mean(axis=2)
    ink = (patch[..., :3].mean(axis=2) - 0.5) * patch[..., 3]
    return float(np.corrcoef(region.ravel(), ink.ravel())[0, 1])


async def test_served_video_shows_the_moving_label(served):
    frames = decode_frames(served["mp4"])
    text = visible.label_text("Fabula", served["handle"])
    last = len(frames) - 1
    # where the label is at each end of the clip, and not where it is not
    first_here, last_here = label_match(frames[0], text, 0.0), label_match(frames[last], text, 1.0)
    first_elsewhere, last_elsewhere = label_match(frames[0], text, 0.5), label_match(frames[last], text, 0.0)
    assert first_here > 0.5 and last_here > 0.5, (first_here, last_here)
    assert abs(first_elsewhere) < 0.2 and abs(last_elsewhere) < 0.2, (first_elsewhere, last_elsewhere)


async def test_served_files_carry_a_valid_manifest(served, settings):
    anchors = keys.trust_anchors(settings)
    assert anchors, "the worker made the development chain under the data directory"
    for data, mime in ((served["mp4"], "video/mp4"), (served["thumb"], "image/jpeg")):
        reading = manifest.read_manifest(data, mime, trust_anchors=anchors)
        assert reading.state == "valid" and reading.trusted, (mime, reading)
        claims = reading.claims
        (created,) = [a for a in claims["actions"] if a["action"] == "c2pa.created"]
        assert created["digitalSourceType"] == manifest.TRAINED_ALGORITHMIC_MEDIA
        assert created["parameters"]["model"] == settings.model
        generation = claims["generation"]
        assert generation["video_id"] == served["id"] and generation["model"] == settings.model
        assert generation["creator"] == "@" + served["handle"]
        assert "remixed_from" not in generation
        assert claims["consent"] == {"cameos": []}
        assert int(generation["watermark"]["key"], 16) == invisible.read_key(decode_frames(served["mp4"])).key
    # another installation's root does not vouch for it
    other = keys.make_dev_chain()[keys.ROOT_FILE]
    reading = manifest.read_manifest(served["mp4"], "video/mp4", trust_anchors=other)
    assert reading.state == "valid" and not reading.trusted


def flipped(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def box_offsets(mp4: bytes) -> dict[str, tuple[int, int]]:
    """Top-level MP4 boxes: type -> (offset, size)."""
    out, at = {}, 0
    while at + 8 <= len(mp4):
        size = int.from_bytes(mp4[at : at + 4], "big")
        out.setdefault(mp4[at + 4 : at + 8].decode("latin-1"), (at, size))
        at += size
    return out


async def test_a_changed_byte_breaks_the_manifest(served):
    boxes = box_offsets(served["mp4"])
    mdat, moov = boxes["mdat"], boxes["moov"]
    for at in (mdat[0] + mdat[1] // 2, mdat[0] + mdat[1] - 1, moov[0] + moov[1] // 2):
        reading = manifest.read_manifest(flipped(served["mp4"], at), "video/mp4")
        assert reading.state == "invalid", (at, reading)
        assert reading.claims["errors"]
    thumb = served["thumb"]
    reading = manifest.read_manifest(flipped(thumb, len(thumb) - 100), "image/jpeg")
    assert reading.state == "invalid", reading
    # and the untouched files still read valid (the flips above were on copies)
    assert manifest.read_manifest(served["mp4"], "video/mp4").state == "valid"


# --- what is not this video -------------------------------------------------


def natural_clip(n: int = 24, size: int = 256) -> np.ndarray:
    """A slow pan over a photograph (skimage's astronaut)."""
    import cv2
    from skimage import data

    big = cv2.resize(data.astronaut(), (size * 2, size * 2))
    return np.stack([big[i * 4 : i * 4 + size, i * 6 : i * 6 + size] for i in range(n)])


async def test_unmarked_and_other_videos_do_not_name_it(served, stores):
    served_key = await registry.key_of(stores, served["id"])
    clip = natural_clip()
    unmarked = invisible.read_key(attacks.reencode(clip, FPS, crf=20))
    assert unmarked.key is None and unmarked.bit_confidence == 0.5, unmarked
    # the same picture marked for another video names that one
    other_key = key_code.new_key()
    assert other_key != served_key
    other = invisible.read_key(attacks.reencode(invisible.embed_key(clip, other_key), FPS, crf=20))
    assert other.key == other_key
    assert await registry.lookup(stores, other_key) is None
    # one still image with no mark
    assert invisible.read_key(clip[0]).key is None


# --- the parts --------------------------------------------------------------


def test_embedding_keeps_the_picture():
    clip = natural_clip(8)
    marked = invisible.embed_key(clip, key_code.new_key())
    mse = np.mean((marked.astype(np.float64) - clip) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 38.0


def test_key_code_round_trip_and_rejects_noise():
    key = key_code.new_key()
    coded = key_code.encode_key(key)
    assert coded.size == key_code.CODED_BITS
    soft = np.where(coded > 0, 1.0, -1.0)
    soft[::14] *= -1  # ten wrong bits, spread over the word (the interleaved layout spreads them so)
    assert key_code.decode_soft(soft)[0] == key
    rng = np.random.default_rng(7)
    assert sum(key_code.decode_soft(rng.normal(size=key_code.CODED_BITS)) is not None for _ in range(200)) == 0
    with pytest.raises(ValueError):
        key_code.encode_key(1 << 48)


def test_label_moves_corner_to_corner():
    assert visible.path_position(0.0, 100, 50) == (0, 0)
    # constant speed along legs of 100, 50 and 100 px
    assert visible.path_position(0.4, 100, 50) == (100, 0)
    assert visible.path_position(0.6, 100, 50) == (100, 50)
    assert visible.path_position(0.2, 100, 50) == (50, 0)
    assert visible.path_position(1.0, 100, 50) == (0, 50)
    assert visible.label_text("Fabula", "@ada") == "Fabula @ada" and visible.label_text("Fabula", None) == "Fabula"


def tiny_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(natural_clip(1)[0]).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_manifest_lists_remix_parent_and_cameo_consent(tmp_path):
    chain = keys.ensure_dev_chain(tmp_path / "provenance")
    assert keys.ensure_dev_chain(tmp_path / "provenance") == chain  # made once, then read
    consent = (
        CameoConsent(cameo_id="cameo_a", mention="@ada", basis="self"),
        CameoConsent(cameo_id="cameo_b", mention="@bob.sunny", basis="approved", grant_id="cameo_b:user_x"),
    )
    claims = Claims(video_id="video_x", model="tiny", creator_handle="ada", remixed_from_video_id="video_parent", cameos=consent)
    signed = manifest.sign_bytes(tiny_jpeg(), "image/jpeg", claims, chain)
    reading = manifest.read_manifest(signed, "image/jpeg", trust_anchors=chain.trust_anchors_pem)
    assert reading.state == "valid" and reading.trusted
    assert reading.claims["generation"]["remixed_from"] == "video_parent"
    assert reading.claims["consent"]["cameos"] == [
        {"cameo_id": "cameo_a", "mention": "@ada", "basis": "self", "grant_id": None},
        {"cameo_id": "cameo_b", "mention": "@bob.sunny", "basis": "approved", "grant_id": "cameo_b:user_x"},
    ]
    assert manifest.read_manifest(tiny_jpeg(), "image/jpeg").state == "absent"
    path = tmp_path / "signed.jpg"
    path.write_bytes(signed)
    assert manifest.read_manifest(path, "image/jpeg").state == "valid"


def test_configured_chain_is_used(tmp_path):
    made = keys.make_dev_chain()
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    settings = Settings(
        data_dir=tmp_path / "data",
        c2pa_key_path=tmp_path / keys.KEY_FILE,
        c2pa_cert_path=tmp_path / keys.CHAIN_FILE,
        c2pa_trust_anchors_path=tmp_path / keys.ROOT_FILE,
    )
    loaded = keys.load_signing_keys(settings)
    assert loaded.key_pem == made[keys.KEY_FILE] and loaded.trust_anchors_pem == made[keys.ROOT_FILE]
    assert not (tmp_path / "data" / "provenance").exists()  # nothing made when a chain is configured
    with pytest.raises(ValueError):
        keys.load_signing_keys(Settings(data_dir=tmp_path, c2pa_key_path=tmp_path / keys.KEY_FILE))


async def test_registry_gives_one_key_per_video(stores):
    await registry.ensure_indexes(stores)
    video_id = "video_prov" + uuid.uuid4().hex[:8]
    first, again = await asyncio.gather(registry.assign_key(stores, video_id), registry.assign_key(stores, video_id))
    assert first == again == await registry.assign_key(stores, video_id)
    record = await registry.lookup(stores, first)
    assert record is not None and record.video_id == video_id
    assert await registry.video_for_key(stores, key_code.new_key()) is None
