"""The local media store: layout, id safety, sizes, ranged reads, puts and
deletion; the store factory. (The S3 store: tests/gen/test_media_s3.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from gen.encode import encode_mp4, write_thumbnail
from core.settings import Settings
from core.media_store import LocalMediaStore, S3MediaStore, open_media_store

VID = "video_01jabcdefghjkmnpqrstvwxyz0"


@pytest.fixture
def store(tmp_path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


def frames(n: int = 9) -> np.ndarray:
    return np.full((n, 64, 64, 3), 90, np.uint8)


def test_paths_are_per_video_and_per_variant(store, tmp_path):
    video, thumb = store.path(VID, "video"), store.path(VID, "thumbnail")
    assert video.suffix == ".mp4" and thumb.suffix == ".jpg"
    assert video.parent == thumb.parent
    assert video.parent.parent == tmp_path / "media"
    assert video != thumb != store.path(VID, "spritesheet")
    assert store.path("video_other", "video").parent != video.parent
    assert not (tmp_path / "media").exists()  # asking for a path creates nothing


def test_content_types(store):
    assert store.content_type("video") == "video/mp4"
    assert store.content_type("thumbnail") == "image/jpeg"
    with pytest.raises(ValueError, match="variant"):
        store.content_type("audio")


async def test_unknown_variant_is_rejected(store):
    for call in (store.path, store.exists):
        with pytest.raises(ValueError, match="audio"):
            call(VID, "audio")
    with pytest.raises(ValueError, match="audio"):
        await store.size(VID, "audio")
    with pytest.raises(ValueError, match="audio"):
        await store.put_bytes(VID, "audio", b"x")


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "../etc", "a/b", "/abs", "a\\b", "..\\x", "x/../../y", "a\x00b", "a b", "-rf", "x" * 129, 7, None]
)
async def test_unsafe_ids_are_rejected(store, tmp_path, bad):
    with pytest.raises(ValueError):
        store.path(bad, "video")
    with pytest.raises(ValueError):
        store.exists(bad, "video")
    with pytest.raises(ValueError):
        await store.delete(bad)
    with pytest.raises(ValueError):
        await store.put_bytes(bad, "video", b"x")
    assert not (tmp_path / "media").exists()


def test_paths_stay_inside_the_root(store, tmp_path):
    root = (tmp_path / "media").resolve()
    for vid in (VID, "a", "A-b_c", "0" * 128):
        assert store.path(vid, "video").resolve().is_relative_to(root)


async def test_exists_and_size_follow_written_files(store):
    assert not store.exists(VID, "video")
    assert await store.size(VID, "video") is None
    out = encode_mp4(frames(), 8, store.path(VID, "video"))
    write_thumbnail(frames(1)[0], store.path(VID, "thumbnail"))
    assert store.exists(VID, "video") and store.exists(VID, "thumbnail")
    assert not store.exists(VID, "spritesheet")
    assert await store.size(VID, "video") == out.bytes > 0
    assert await store.size(VID, "thumbnail") == store.path(VID, "thumbnail").stat().st_size > 0


async def read_all(store, vid, variant, start=0, end=None) -> bytes:
    return b"".join([chunk async for chunk in store.read(vid, variant, start, end)])


async def test_put_and_ranged_reads(store, tmp_path):
    data = bytes(range(256)) * 3000  # 768,000 bytes: several read chunks
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    assert await store.put_file(VID, "video", src) == len(data)
    assert src.read_bytes() == data  # the source is left in place
    assert await store.size(VID, "video") == len(data)
    assert await read_all(store, VID, "video") == data
    assert await read_all(store, VID, "video", 10, 99) == data[10:100]
    assert await read_all(store, VID, "video", len(data) - 5) == data[-5:]
    assert await read_all(store, VID, "video", 300_000, 10**9) == data[300_000:]  # end clipped to the size
    with pytest.raises(ValueError):
        await read_all(store, VID, "video", len(data))
    with pytest.raises(FileNotFoundError):
        await read_all(store, VID, "thumbnail")

    assert await store.put_bytes(VID, "reference", b"\x89PNG fake") == 9
    assert await store.get_bytes(VID, "reference") == b"\x89PNG fake"
    assert await store.get_bytes(VID, "spritesheet") is None
    assert store.content_type("reference") == "image/png" and store.content_type("spritesheet") == "image/jpeg"
    # overwriting leaves no temp files behind
    await store.put_bytes(VID, "reference", b"again")
    assert sorted(p.name for p in store.path(VID, "video").parent.iterdir()) == ["reference.png", "video.mp4"]
    dest = tmp_path / "copy.mp4"
    assert await store.fetch_file(VID, "video", dest) and dest.read_bytes() == data
    assert not await store.fetch_file(VID, "thumbnail", tmp_path / "none.jpg")


async def test_put_file_of_the_stored_path_is_a_no_op(store):
    encode_mp4(frames(), 8, store.path(VID, "video"))
    size = store.path(VID, "video").stat().st_size
    assert await store.put_file(VID, "video", store.path(VID, "video")) == size
    assert await store.size(VID, "video") == size


async def test_delete_removes_every_variant_and_is_idempotent(store, tmp_path):
    other = "video_keepme"
    for vid in (VID, other):
        encode_mp4(frames(), 8, store.path(vid, "video"))
        write_thumbnail(frames(1)[0], store.path(vid, "thumbnail"))

    await store.delete(VID)
    assert not store.exists(VID, "video") and not store.exists(VID, "thumbnail")
    assert not store.path(VID, "video").parent.exists()
    await store.delete(VID)  # again: no error
    await store.delete("video_never_stored")

    assert store.exists(other, "video") and store.exists(other, "thumbnail")
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [other]  # nothing left behind


def test_open_media_store_follows_the_settings(tmp_path):
    local = open_media_store(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalMediaStore) and local.root == tmp_path / "media"
    there = open_media_store(Settings(media_url=f"file://{tmp_path}/elsewhere"))
    assert isinstance(there, LocalMediaStore) and there.root == tmp_path / "elsewhere"
    s3 = open_media_store(Settings(media_url="s3://clips/fabula/media/", s3_endpoint_url="http://127.0.0.1:9000", s3_region="eu-west-1"))
    assert isinstance(s3, S3MediaStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region) == ("clips", "fabula/media", "http://127.0.0.1:9000", "eu-west-1")
    assert s3.key(VID, "video") == f"fabula/media/{VID}/video.mp4"
    assert S3MediaStore("clips").key(VID, "thumbnail") == f"{VID}/thumbnail.jpg"
    for bad in ("ftp://x/y", "s3://", "bucket/prefix"):
        with pytest.raises(ValueError):
            open_media_store(Settings(media_url=bad))
