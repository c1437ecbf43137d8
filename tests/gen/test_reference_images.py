"""Reference images (``input_reference``) are sized from their header and
refused before any pixel is decoded when too large; a file whose end is
missing is refused; what passes is decoded in a thread (gen.reference,
server.media.reference_png)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from gen.reference import MAX_PIXELS, BadReference, check_header, header_size, normalize_image
from tests.conftest import signup


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format=fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A 6320x6320 all-black PNG: about 39 KB that decode to 120 MB of pixels."""
    return encoded("PNG", (6320, 6320), "L")


@pytest.mark.parametrize(
    "fmt,options",
    [("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("WEBP", {}), ("WEBP", {"lossless": True})],
)
@pytest.mark.parametrize("size", [(48, 40), (17, 301), (1200, 16)])
def test_header_size_without_decoding(fmt, options, size):
    assert header_size(encoded(fmt, size, **options)) == (fmt, *size)


def test_a_bomb_is_refused_from_its_header(bomb):
    assert len(bomb) < 64 * 1024
    with pytest.raises(BadReference, match="6320x6320; at most"):
        check_header(bomb)
    assert 6320 * 6320 > MAX_PIXELS


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_any_truncation_is_refused(fmt):
    import random

    rng = random.Random(7)
    picture = Image.frombytes("RGB", (64, 64), bytes(rng.randrange(256) for _ in range(64 * 64 * 3)))
    out = io.BytesIO()
    picture.save(out, format=fmt)
    data = out.getvalue()
    assert normalize_image(data)
    for cut in [*range(1, 64), len(data) // 2, *range(len(data) - 64, len(data))]:
        with pytest.raises(BadReference):
            normalize_image(data[:cut])


def assert_error(r, status: int, code: str) -> dict:
    """The error's status, code and message (the Videos API adds OpenAI's fields beside them)."""
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == code and err["message"], err
    return err


async def upload(http, me, data: bytes, name: str = "ref.png", ctype: str = "image/png"):
    return await http.post(
        "/v1/videos",
        data={"prompt": "a red door", "seconds": "1", "size": "64x64"},
        files={"input_reference": (name, data, ctype)},
        headers=me["headers"],
    )


async def test_the_api_refuses_bombs_and_truncated_images(http, stores, bomb):
    me = await signup(http)
    err = assert_error(await upload(http, me, bomb), 400, "invalid_reference")
    assert "6320x6320" in err["message"]
    url = "data:image/png;base64," + base64.b64encode(bomb).decode()
    r = await http.post("/v1/videos", json={"prompt": "a red door", "input_reference": {"image_url": url}}, headers=me["headers"])
    assert_error(r, 400, "invalid_reference")
    png = encoded("PNG", (64, 64))
    assert "truncated" in assert_error(await upload(http, me, png[:-1]), 400, "invalid_reference")["message"]
    jpeg = encoded("JPEG", (64, 64))
    assert "truncated" in assert_error(await upload(http, me, jpeg[:-2], "ref.jpg", "image/jpeg"), 400, "invalid_reference")["message"]
    assert await stores.db.videos.count_documents({"owner_id": me["user"]["id"]}) == 0
    ok = await upload(http, me, png)
    assert ok.status_code == 200 and ok.json()["reference"] is True, ok.text
    await http.delete(f"/v1/videos/{ok.json()['id']}", headers=me["headers"])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_picture_is_not_a_clip_to_take_the_last_frame_of(tmp_path, fmt):
    """``last_frame_png`` reads a video; FFmpeg opens a picture as a one-frame
    stream, which is refused by name (``core.media_kind``)."""
    from gen.reference import last_frame_png

    path = tmp_path / f"still.{fmt.lower()}"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(path, format=fmt)
    with pytest.raises(BadReference, match="still image"):
        last_frame_png(path)
