"""``core.media_kind``: FFmpeg's still-image demuxers, told from video ones,
on files PyAV opens here."""

from __future__ import annotations


import av
import numpy as np
import pytest
from PIL import Image

from core.media_kind import is_still_image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP"])
def test_a_picture_is_read_by_a_still_image_demuxer(tmp_path, fmt):
    path = tmp_path / f"still.{fmt.lower()}"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(path, format=fmt)
    with av.open(str(path)) as container:
        assert container.streams.video  # a one-frame "video" stream: what the check is for
        assert is_still_image(container.format.name)


def test_a_video_is_not(tmp_path):
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 32
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(path)) as container:
        assert not is_still_image(container.format.name)  # "mov,mp4,m4a,3gp,3g2,mj2"
    assert not is_still_image("") and not is_still_image("matroska,webm")
    assert is_still_image("image2") and is_still_image("image2pipe")
