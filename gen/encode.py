"""Turning generated frames into files people can play.

Owns H.264/MP4 encoding of a clip and JPEG thumbnails, both written
atomically (a temp file in the destination folder, then ``os.replace``), so a
retried job simply overwrites and a reader never sees half a file.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import msgspec
import numpy as np

VIDEO_CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"
# Constant quality; "medium" costs little next to generation and keeps files small.
X264_OPTIONS = {"crf": "20", "preset": "medium"}
JPEG_QUALITY = 85


class EncodedVideo(msgspec.Struct):
    path: str
    width: int
    height: int
    frames: int
    fps: int
    bytes: int
    content_type: str = "video/mp4"


@contextmanager
def _atomic_target(out_path: Path):
    """Yield a temp path next to ``out_path``; on success move it into place, else remove it."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must be shaped (n >= 1, height, width, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"frames must be at least 2x2 pixels, got {frames.shape[2]}x{frames.shape[1]}")
    return frames


def _even(frames: np.ndarray) -> np.ndarray:
    """4:2:0 needs even sides: repeat the last row/column where a side is odd."""
    _, h, w, _ = frames.shape
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(frames)


def encode_mp4(frames: np.ndarray, fps: int, out_path: Path) -> EncodedVideo:
    """Encode uint8 RGB ``frames`` (n, h, w, 3) as H.264 in a fast-start MP4 at ``out_path``.

    Odd sides are padded by one pixel (the reported size is the encoded one).
    Raises RuntimeError if the written file does not hold every frame.
    """
    import av

    frames = _even(_check_frames(frames))
    if not isinstance(fps, int) or fps < 1:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    out_path = Path(out_path)
    n, height, width, _ = frames.shape

    with _atomic_target(out_path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream(VIDEO_CODEC, rate=fps, options=dict(X264_OPTIONS))
            stream.width, stream.height = width, height
            stream.pix_fmt = PIXEL_FORMAT
            stream.time_base = Fraction(1, fps)
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = i
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))  # flush delayed frames
        written = _frame_count(tmp)
        if written != n:
            raise RuntimeError(f"encoded {n} frames but the MP4 holds {written}")

    return EncodedVideo(
        path=str(out_path),
        width=width,
        height=height,
        frames=n,
        fps=fps,
        bytes=out_path.stat().st_size,
    )


def _frame_count(path: Path) -> int:
    """Frames in the first video stream, read from the container index (no decoding)."""
    import av

    with av.open(str(path)) as container:
        return int(container.streams.video[0].frames)


def write_thumbnail(frame: np.ndarray, out_path: Path, max_side: int = 512) -> None:
    """Write one uint8 RGB frame (h, w, 3) as a JPEG whose longer side is at most ``max_side``."""
    from PIL import Image

    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"thumbnail frame must be uint8 (height, width, 3), got {frame.dtype} {frame.shape}")
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    image = Image.fromarray(np.ascontiguousarray(frame))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out_path = Path(out_path)
    with _atomic_target(out_path) as tmp:
        image.save(tmp, format="JPEG", quality=JPEG_QUALITY, optimize=True)
