"""Composing cameo reference frames into the one conditioning picture."""

import io

import numpy as np
import pytest
from PIL import Image

from cameos.conditioning import compose_reference


def _jpeg(color: tuple[int, int, int], size=(120, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=95)
    return out.getvalue()


def _open(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_one_cameo_fills_the_frame_at_the_video_size():
    pixels = _open(compose_reference([_jpeg((200, 30, 30))], 64, 96))
    assert pixels.shape == (96, 64, 3)
    assert abs(pixels[..., 0].mean() - 200) < 4 and pixels[..., 1].mean() < 40


def test_two_cameos_stand_side_by_side_in_equal_strips():
    pixels = _open(compose_reference([_jpeg((220, 0, 0)), _jpeg((0, 0, 220))], 64, 64))
    left, right = pixels[:, :32], pixels[:, 32:]
    assert left[..., 0].mean() > 200 and left[..., 2].mean() < 20
    assert right[..., 2].mean() > 200 and right[..., 0].mean() < 20


def test_a_wide_frame_is_cropped_around_its_middle_not_squashed():
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((250, 250, 250), (100, 0, 200, 100))  # the middle third is white
    out = io.BytesIO()
    wide.save(out, format="PNG")
    pixels = _open(compose_reference([out.getvalue()], 50, 100))
    assert pixels.mean() > 240  # only the middle third is kept


def test_no_frames_is_an_error():
    with pytest.raises(ValueError):
        compose_reference([], 64, 64)
