"""Perceptual hashes of a video's frames, for copies whose manifest and key
are both gone.

A frame's hash is ``imagehash.phash`` (64 bits: the signs of the lowest 8x8
DCT coefficients of the frame's 32x32 greyscale, against their median), kept
as an unsigned int. It survives re-encoding, scaling, blur and small crops
with a few bits changed, where unrelated pictures differ in about 32.

A video is hashed at ``FRAMES_PER_VIDEO`` frames spread over it; a flat frame
(almost one colour: its hash is noise) is skipped. ``hamming`` counts the
bits two hashes differ in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FRAMES_PER_VIDEO = 6  # hashed per stored video
QUERY_FRAMES = 8  # hashed from an uploaded copy
MIN_CONTRAST = 6.0  # grey-level standard deviation under which a frame is flat
BITS = 64


def frame_hash(frame: np.ndarray) -> int:
    """The 64-bit perceptual hash of one RGB (or grey) frame."""
    import imagehash
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(frame))
    return int(str(imagehash.phash(image)), 16)


def is_flat(frame: np.ndarray) -> bool:
    grey = frame.mean(axis=2) if frame.ndim == 3 else frame
    return float(grey[:: max(1, grey.shape[0] // 64), :: max(1, grey.shape[1] // 64)].std()) < MIN_CONTRAST


def spread(n: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``n`` frames (all of them when fewer)."""
    if n <= count:
        return list(range(n))
    return sorted({round(i * (n - 1) / (count - 1)) for i in range(count)}) if count > 1 else [n // 2]


def frame_hashes(frames: Sequence[np.ndarray] | np.ndarray, count: int = FRAMES_PER_VIDEO) -> list[int]:
    """The hashes of up to ``count`` frames spread over ``frames`` (flat frames left out)."""
    picked = [frames[i] for i in spread(len(frames), count)]
    return [frame_hash(f) for f in picked if not is_flat(f)]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def to_signed(h: int) -> int:
    """A 64-bit hash as BSON's signed 64-bit integer."""
    return h - (1 << 64) if h >= 1 << 63 else h


def from_signed(v: int) -> int:
    return v + (1 << 64) if v < 0 else v
