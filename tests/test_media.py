"""The local media store: layout, id safety, sizes and deletion."""

from __future__ import annotations

import numpy as np
import pytest

from gen.encode import encode_mp4, write_thumbnail
from gen.media import LocalMediaStore

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


def test_unknown_variant_is_rejected(store):
    for call in (store.path, store.exists, store.size):
        with pytest.raises(ValueError, match="audio"):
            call(VID, "audio")


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "../etc", "a/b", "/abs", "a\\b", "..\\x", "x/../../y", "a\x00b", "a b", "-rf", "x" * 129, 7, None]
)
def test_unsafe_ids_are_rejected(store, tmp_path, bad):
    with pytest.raises(ValueError):
        store.path(bad, "video")
    with pytest.raises(ValueError):
        store.exists(bad, "video")
    with pytest.raises(ValueError):
        store.delete(bad)
    assert not (tmp_path / "media").exists()


def test_paths_stay_inside_the_root(store, tmp_path):
    root = (tmp_path / "media").resolve()
    for vid in (VID, "a", "A-b_c", "0" * 128):
        assert store.path(vid, "video").resolve().is_relative_to(root)


def test_exists_and_size_follow_written_files(store):
    assert not store.exists(VID, "video")
    with pytest.raises(FileNotFoundError):
        store.size(VID, "video")
    out = encode_mp4(frames(), 8, store.path(VID, "video"))
    write_thumbnail(frames(1)[0], store.path(VID, "thumbnail"))
    assert store.exists(VID, "video") and store.exists(VID, "thumbnail")
    assert not store.exists(VID, "spritesheet")
    assert store.size(VID, "video") == out.bytes > 0
    assert store.size(VID, "thumbnail") == store.path(VID, "thumbnail").stat().st_size > 0


def test_delete_removes_every_variant_and_is_idempotent(store, tmp_path):
    other = "video_keepme"
    for vid in (VID, other):
        encode_mp4(frames(), 8, store.path(vid, "video"))
        write_thumbnail(frames(1)[0], store.path(vid, "thumbnail"))

    store.delete(VID)
    assert not store.exists(VID, "video") and not store.exists(VID, "thumbnail")
    assert not store.path(VID, "video").parent.exists()
    store.delete(VID)  # again: no error
    store.delete("video_never_stored")

    assert store.exists(other, "video") and store.exists(other, "thumbnail")
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [other]  # nothing left behind
