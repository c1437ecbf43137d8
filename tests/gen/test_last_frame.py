"""``gen.reference.last_frame_png``, the first frame of an extension: the true
last frame of the clip, found by decoding from the last keyframe only, and a
clip too large a frame or too long refused from its header."""

from __future__ import annotations

import av
import numpy as np
import pytest

from gen import reference
from gen.reference import BadReference, last_frame_png


def colour(i: int) -> tuple[int, int, int]:
    return (i * 37) % 256, (i * 91) % 256, (i * 13 + 40) % 256


def write_clip(path, frames: int, *, fps: int = 30, size: int = 64, gop: int = 10) -> None:
    """An H.264 MP4 whose frame ``i`` is one flat colour, ``colour(i)``, with a keyframe every ``gop`` frames."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": "ultrafast", "qp": "0"}
        for i in range(frames):
            pixels = np.empty((size, size, 3), dtype=np.uint8)
            pixels[:] = colour(i)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode())


def mean_colour(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("frames", [1, 9, 10, 11, 95])
def test_the_last_frame_is_the_clips_last(tmp_path, frames):
    path = tmp_path / "clip.mp4"
    write_clip(path, frames)
    got = mean_colour(last_frame_png(path))
    assert np.abs(got - colour(frames - 1)).max() <= 3, (frames, got, colour(frames - 1))
    if frames > 1:  # and not the one before it
        assert np.abs(got - colour(frames - 2)).max() > 3


def test_only_the_end_is_decoded(tmp_path, monkeypatch):
    # 300 frames, a keyframe every 10: from the last keyframe, 10 frames are decoded;
    # a file read from its start would pass the cap of 15 long before its end
    path = tmp_path / "long.mp4"
    write_clip(path, 300)
    monkeypatch.setattr(reference, "MAX_DECODED_FRAMES", 15)
    assert np.abs(mean_colour(last_frame_png(path)) - colour(299)).max() <= 3
    sparse = tmp_path / "sparse.mp4"  # one keyframe for all of it: the end is 300 frames away
    write_clip(sparse, 300, gop=300)
    with pytest.raises(BadReference, match="more than 15 frames from a keyframe"):
        last_frame_png(sparse)


def test_a_clip_too_long_is_refused_from_its_header(tmp_path):
    path = tmp_path / "three-minutes.mp4"
    write_clip(path, int(reference.MAX_VIDEO_SECONDS) + 5, fps=1, size=16, gop=250)
    with pytest.raises(BadReference, match=r"long; at most 180 s"):
        last_frame_png(path)


def test_a_frame_too_large_is_refused_from_its_header(tmp_path, monkeypatch):
    path = tmp_path / "clip.mp4"
    write_clip(path, 3)
    monkeypatch.setattr(reference, "MAX_PIXELS", 32 * 32)  # the 64x64 clip is over it
    with pytest.raises(BadReference, match="64x64; at most 1024 pixels"):
        last_frame_png(path)
