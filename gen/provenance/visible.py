"""The visible mark: the service name and the creator's @handle, burnt into
every frame, moving from corner to corner over the clip.

The label is drawn once (Pillow's bundled font, white with a dark outline so
it reads on any picture) into a small RGBA patch whose height is ``size``
of the frame's short side; each frame gets it alpha-blended at its place
on the path top-left -> top-right -> bottom-right -> bottom-left, at a
constant speed, so a crop of one corner does not remove it from the clip.
Only the patch's pixels are touched: the cost is a few microseconds per
frame whatever the frame size.
"""

from __future__ import annotations

import msgspec
import numpy as np

DEFAULT_TEXT = "Fabula"
DEFAULT_OPACITY = 0.6
DEFAULT_SIZE = 0.06  # the label's height, as a share of the frame's short side
MARGIN = 0.03  # distance from the edges, as a share of the short side
MIN_TEXT_PX = 6


class VisibleMark(msgspec.Struct, frozen=True, kw_only=True):
    """How the label looks: ``text`` (the service name), ``opacity`` (0-1),
    ``size`` (height as a share of the short side)."""

    text: str = DEFAULT_TEXT
    opacity: float = DEFAULT_OPACITY
    size: float = DEFAULT_SIZE


def label_text(service: str, handle: str | None) -> str:
    """``"Fabula @ada"``; just the service name without a handle."""
    handle = (handle or "").strip().lstrip("@")
    return f"{service} @{handle}" if handle else service


def render_label(text: str, height_px: int) -> np.ndarray:
    """The label as float32 RGBA (h, w, 4) in [0, 1], about ``height_px`` tall."""
    from PIL import Image, ImageDraw, ImageFont

    font_px = max(MIN_TEXT_PX, int(round(height_px * 0.8)))
    font = ImageFont.load_default(size=font_px)
    stroke = max(1, font_px // 10)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=stroke)
    w, h = right - left + 2, bottom - top + 2
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(image).text(
        (1 - left, 1 - top), text, font=font, fill=(255, 255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255)
    )
    return np.asarray(image, dtype=np.float32) / 255.0


def path_position(t: float, room_x: int, room_y: int) -> tuple[int, int]:
    """Where the label's top-left corner is at ``t`` in [0, 1] of the clip:
    along top-left -> top-right -> bottom-right -> bottom-left, at constant speed,
    within a ``room_x`` x ``room_y`` area."""
    legs = [(0, 0), (room_x, 0), (room_x, room_y), (0, room_y)]
    lengths = [abs(b[0] - a[0]) + abs(b[1] - a[1]) for a, b in zip(legs, legs[1:])]
    total = sum(lengths)
    if total == 0:
        return 0, 0
    walked = min(max(t, 0.0), 1.0) * total
    for (a, b), length in zip(zip(legs, legs[1:]), lengths):
        if walked <= length and length:
            f = walked / length
            return round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f)
        walked -= length
    return legs[-1]


def burn_label(frames: np.ndarray, text: str, mark: VisibleMark = VisibleMark(), *, out: np.ndarray | None = None) -> np.ndarray:
    """``frames`` (uint8 (n, h, w, 3) RGB) with ``text`` burnt in, moving over
    the clip. ``out`` may be ``frames`` itself."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (n, height, width, 3), got {frames.dtype} {frames.shape}")
    if not 0 <= mark.opacity <= 1 or not 0 < mark.size <= 0.5:
        raise ValueError(f"opacity must be in [0, 1] and size in (0, 0.5], got {mark.opacity}, {mark.size}")
    if out is None:
        out = frames.copy()
    elif out is not frames:
        out[...] = frames
    n, height, width, _ = frames.shape
    short = min(height, width)
    patch = render_label(text, max(MIN_TEXT_PX, round(short * mark.size)))
    margin = round(short * MARGIN)
    # a label wider than the frame is cut at the frame's edge
    ph, pw = min(patch.shape[0], height - 2 * margin), min(patch.shape[1], width - 2 * margin)
    if ph <= 0 or pw <= 0 or mark.opacity == 0:
        return out
    patch = patch[:ph, :pw]
    alpha = patch[..., 3:] * mark.opacity
    ink = patch[..., :3] * 255.0 * alpha
    keep = 1.0 - alpha
    room_x, room_y = width - 2 * margin - pw, height - 2 * margin - ph
    for i in range(n):
        x, y = path_position(i / max(1, n - 1), room_x, room_y)
        x, y = x + margin, y + margin
        region = out[i, y : y + ph, x : x + pw]
        region[...] = np.clip(region * keep + ink + 0.5, 0, 255).astype(np.uint8)
    return out
