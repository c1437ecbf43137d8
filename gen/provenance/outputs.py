"""What the worker does to a finished clip before anyone sees it: the marks
its frames get (visible label, then invisible key) and the signatures its
files get (a C2PA manifest in the MP4 and in the thumbnail), as settings say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.settings import Settings
from gen.provenance import invisible, visible
from gen.provenance.keys import SigningKeys
from gen.provenance.manifest import Claims, sign_file


def visible_mark(settings: Settings) -> visible.VisibleMark:
    return visible.VisibleMark(text=settings.watermark_text, opacity=settings.watermark_opacity, size=settings.watermark_size)


def mark_frames(frames: np.ndarray, *, key: int | None, handle: str | None, settings: Settings, in_place: bool = False) -> np.ndarray:
    """``frames`` (uint8 (n, h, w, 3) RGB) marked: the moving label when
    ``watermark_visible``, then ``key`` (when given) at ``watermark_strength``.
    A copy, unless ``in_place`` (and the array is writable): then the frames
    themselves, which spares a clip-sized allocation and copy."""
    frames = np.asarray(frames)
    out = frames if in_place and frames.flags.writeable else frames.copy()
    if settings.watermark_visible:
        mark = visible_mark(settings)
        visible.burn_label(out, visible.label_text(mark.text, handle), mark, out=out)
    if key is not None:
        invisible.embed_key(out, key, settings.watermark_strength, out=out)
    return out


def sign_outputs(video: tuple[Path, Path], thumbnail: tuple[Path, Path], claims: Claims, keys: SigningKeys) -> tuple[int, int]:
    """Sign (source, destination) pairs of the MP4 and the JPEG thumbnail;
    each destination is written whole or not at all. Returns their sizes."""
    video_bytes = sign_file(video[0], video[1], "video/mp4", claims, keys)
    thumb_bytes = sign_file(thumbnail[0], thumbnail[1], "image/jpeg", claims, keys)
    return video_bytes, thumb_bytes
