"""The picture a cameo video is conditioned on.

The presets condition on one image (the first frame, image-to-video), so
the cameos a prompt mentions are composed into one: a single cameo's best
frontal frame fills the frame (cropped to the video's aspect ratio around
the middle); two or more stand side by side, each in an equal vertical
strip. The strips narrow as cameos are added, so past three on a portrait
video each face is a small part of the picture; ``policy.mentions``
caps how many cameos one prompt may mention.
"""

from __future__ import annotations

import io

from PIL import Image


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """``image`` scaled to cover ``width`` x ``height`` and cropped around its middle."""
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    left = (resized.width - width) // 2
    top = (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def compose_reference(frames: list[bytes], width: int, height: int) -> bytes:
    """One RGB PNG of ``width`` x ``height`` made of each cameo's frame (JPEG or PNG bytes)."""
    if not frames:
        raise ValueError("no cameo frames to compose")
    canvas = Image.new("RGB", (width, height))
    n = len(frames)
    for i, data in enumerate(frames):
        left = i * width // n
        right = (i + 1) * width // n
        with Image.open(io.BytesIO(data)) as image:
            canvas.paste(_cover(image.convert("RGB"), right - left, height), (left, 0))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()
