"""The invisible mark: a video's 48-bit key, hidden in the brightness of
every frame, and the reader that finds it again in a copy.

``embed_key(frames, key)`` adds the same faint pattern to every frame: a
tile of ±1 chips (``mark_layout``) carrying the coded key (``key_code``),
repeated over the frame, about ``strength`` grey levels at its peaks (3.0 by
default: PSNR about 40 dB). Because it is the same in every frame and
defined relative to the frame's size, changing speed, cutting an excerpt
or rescaling changes nothing for it; re-encoding, blur and JPEG weaken it
but leave its coarse chips (1/64 of the short side each).

``read_key(frames)`` looks for it:

1. every sampled frame (up to ``MAX_READ_FRAMES``) is reduced to its
   brightness, band-passed, divided by its local contrast and clipped, so
   edges and textures of the picture weigh no more than flat parts; the
   frames are averaged, which keeps the mark and blurs what moves;
2. the average is resampled to the canonical grid at a range of scales (a
   crop that cut the short side enlarges the grid; a reader does not know
   by how much), folded onto one tile, and correlated with the sync
   pattern and every bit's pattern at every phase of the tile (FFTs);
3. the best (scale, phase) candidates give soft bits, which the Viterbi
   decoder turns into a key that must pass the CRC.

It survives what the bench measures (docs/PROVENANCE.md): H.264 at CRF 28,
scaling to 50%, a crop of 10% from any side, 0.5x and 2x speed, blur plus
JPEG, a 2 s excerpt (and crops of up to about 30% of the short side). It
does not survive mirroring, rotation, stretching to another aspect ratio,
letterboxing, CRF 35 or a downscale to a quarter; nor frames whose short
side is under about 256 px once attacked (the chips get too small); nor
someone who averages many marked videos to estimate the pattern and
subtract it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from gen.provenance import key_code
from gen.provenance.mark_layout import CANONICAL_SHORT, TILE, WHITEN_SIGMA, layout

DEFAULT_STRENGTH = 3.0
MAX_READ_FRAMES = 64
# frames are reduced to this short side before reading (chips of 2 px): as
# reliable as at twice the size in the bench, and three times faster
READ_SHORT_SIDE = CANONICAL_SHORT
# the grid scales searched: 0.72 finds a crop of 28% of the short side, 1.12 a border of 12%
SCALE_MIN, SCALE_MAX, SCALE_STEP = 0.72, 1.12, 0.02
REFINE_STEPS = (-0.01, -0.005, 0.005, 0.01)
CANDIDATES_PER_SCALE = 3
DECODE_TRIES = 4
CLIP_AT = 3.0


class KeyReading(msgspec.Struct, frozen=True, kw_only=True):
    """What ``read_key`` found.

    ``key``: the decoded key, or None. ``bit_confidence``: the estimated
    probability that a coded bit was read right, averaged over the 140 coded
    bits, from the spread of the soft values (1.0: clean); 0.5 when no key
    decoded (nothing can be said of any bit then). ``bits_correct_estimate``:
    the share of coded bits that agree with the decoded key's coding (0.5
    without a key). ``score``: how far the best alignment stands out
    from the others (about 3 to 6 with no mark, above 9 for a clear one).
    ``scale``: the grid scale it was found at (1.0 for an uncropped copy,
    0.9 when 10% of the short side was cut). ``frames``: frames read."""

    key: int | None
    bit_confidence: float
    bits_correct_estimate: float
    score: float
    scale: float
    frames: int
    coded_bits: int = key_code.CODED_BITS


@dataclass(frozen=True)
class SoftReading:
    """The reader's best alignment and its soft bits (positive: 1)."""

    soft: np.ndarray
    noise: np.ndarray  # each soft value's noise level, measured off the peak
    score: float
    scale: float
    shift: tuple[int, int]
    frames: int


# --- embedding -------------------------------------------------------------


def embed_key(frames: np.ndarray, key: int, strength: float = DEFAULT_STRENGTH, *, out: np.ndarray | None = None) -> np.ndarray:
    """``frames`` (uint8, (n, h, w, 3) RGB) with ``key`` marked in every frame.

    The pattern is computed once for the frame size and added to the three
    channels alike (brightness only), saturating at 0 and 255. ``out`` may
    be ``frames`` itself to mark in place."""
    import cv2

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (n, height, width, 3), got {frames.dtype} {frames.shape}")
    if not strength > 0:
        raise ValueError(f"strength must be positive, got {strength!r}")
    _, height, width, _ = frames.shape
    pattern = np.rint(layout().frame_pattern(key_code.encode_key(key), height, width) * strength)
    up = np.repeat(np.clip(pattern, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    down = np.repeat(np.clip(-pattern, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    if out is None:
        out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        cv2.add(frame, up, dst=out[i])
        cv2.subtract(out[i], down, dst=out[i])
    return out


# --- reading ---------------------------------------------------------------


def _as_frames(frames) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim in (2, 3) and (frames.ndim == 2 or frames.shape[-1] in (3, 4)):
            return [frames]
        if frames.ndim in (3, 4):
            return list(frames)
        raise ValueError(f"frames must be (n, h, w[, 3]) or one (h, w[, 3]) image, got {frames.shape}")
    if isinstance(frames, Sequence):
        return [np.asarray(f) for f in frames]
    raise ValueError("frames must be an array or a sequence of frames")


def _brightness(frame: np.ndarray) -> np.ndarray:
    import cv2

    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[-1] in (3, 4):
        rgb = np.ascontiguousarray(frame[..., :3])
        if rgb.dtype != np.uint8:
            rgb = np.clip(rgb, 0, 255).astype(np.uint8)
        y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    elif frame.ndim == 2:
        y = frame
    else:
        raise ValueError(f"a frame must be (h, w) or (h, w, 3), got {frame.shape}")
    h, w = y.shape
    if min(h, w) > READ_SHORT_SIDE:
        f = READ_SHORT_SIDE / min(h, w)
        y = cv2.resize(y, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return y.astype(np.float32)


def _flattened(y: np.ndarray) -> np.ndarray:
    """The band the mark lives in, divided by the picture's local contrast and clipped."""
    import cv2

    sigma = WHITEN_SIGMA * min(y.shape) / CANONICAL_SHORT
    band = cv2.subtract(y, cv2.GaussianBlur(y, (0, 0), sigma))
    contrast = cv2.GaussianBlur(cv2.multiply(band, band), (0, 0), 2 * sigma)
    cv2.sqrt(contrast, dst=contrast)
    contrast += 1.0
    cv2.divide(band, contrast, dst=band)
    return np.clip(band, -CLIP_AT, CLIP_AT, out=band)


def _surfaces(average: np.ndarray, scale: float):
    """Sync and bit correlation surfaces over the tile's phases at one grid scale."""
    import cv2

    lay = layout()
    h, w = average.shape
    f = CANONICAL_SHORT / min(h, w) * scale
    cw, ch = round(w * f), round(h * f)
    if min(cw, ch) < TILE:
        return None
    grid = cv2.resize(average, (cw, ch), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    grid = grid[: ch // TILE * TILE, : cw // TILE * TILE]
    folded = grid.reshape(ch // TILE, TILE, cw // TILE, TILE).mean(axis=(0, 2))
    spectrum = np.fft.fft2(folded)
    sync = np.real(np.fft.ifft2(spectrum * lay.sync_spectrum))
    bits = np.real(np.fft.ifft2(spectrum[None] * lay.bit_spectra))
    return sync, bits


def _candidates(average: np.ndarray, scale: float, keep: int) -> list[tuple[float, float, int, int, np.ndarray, np.ndarray]]:
    got = _surfaces(average, scale)
    if got is None:
        return []
    sync, bits = got
    noise = bits.std(axis=(1, 2)) + 1e-12
    sync_z = (sync - sync.mean()) / (sync.std() + 1e-12)
    energy = np.abs(bits / noise[:, None, None]).sum(axis=0)
    energy_z = (energy - energy.mean()) / (energy.std() + 1e-12)
    score = sync_z + energy_z
    out = []
    for flat in np.argsort(score, axis=None)[-keep:][::-1]:
        dy, dx = np.unravel_index(flat, score.shape)
        out.append((float(score[dy, dx]), float(scale), int(dy), int(dx), bits[:, dy, dx].copy(), noise))
    return out


def _average(frames) -> tuple[np.ndarray, int]:
    frames = _as_frames(frames)
    if not frames:
        raise ValueError("no frames to read")
    picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), MAX_READ_FRAMES)).round().astype(int))
    total = None
    for i in picks:
        flat = _flattened(_brightness(frames[i]))
        if total is None:
            total = flat
        elif flat.shape != total.shape:
            raise ValueError("frames of one reading must share a size")
        else:
            total += flat
    return total / len(picks), len(picks)


def _search(average: np.ndarray) -> list[tuple]:
    coarse = np.exp(np.arange(np.log(SCALE_MIN), np.log(SCALE_MAX) + 1e-9, SCALE_STEP))
    found = [c for s in coarse for c in _candidates(average, float(s), CANDIDATES_PER_SCALE)]
    found.sort(key=lambda c: -c[0])
    best_scales = list(dict.fromkeys(round(c[1], 6) for c in found))[:3]
    for s in best_scales:
        for step in REFINE_STEPS:
            found += _candidates(average, s * float(np.exp(step)), CANDIDATES_PER_SCALE)
    found.sort(key=lambda c: -c[0])
    return found


def read_soft(frames) -> SoftReading | None:
    """The best alignment's soft bits (None when the frames are too small to hold a tile)."""
    average, used = _average(frames)
    found = _search(average)
    if not found:
        return None
    score, scale, dy, dx, soft, noise = found[0]
    return SoftReading(soft=soft, noise=noise, score=score, scale=scale, shift=(dy, dx), frames=used)


def _confidence(soft: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Each coded bit's probability of being right.

    The soft values are modelled as ±mu plus Gaussian noise of variance v;
    mu and v come from their second and fourth moments (pure noise gives
    mu = 0, so every bit is a coin toss: 0.5)."""
    z = soft / noise
    m2, m4 = float(np.mean(z**2)), float(np.mean(z**4))
    spread = (3 * m2 * m2 - m4) / 2
    var = m2 - np.sqrt(spread) if spread > 0 else m2
    var = max(var, 1e-6 * m2, 1e-12)
    mu = np.sqrt(max(0.0, m2 - var))
    return 1.0 / (1.0 + np.exp(-2.0 * mu * np.abs(z) / var))


def read_key(frames) -> KeyReading:
    """Find the key in ``frames``: a video's frames ((n, h, w, 3) array or a
    sequence of (h, w, 3) arrays, RGB uint8) or one image. Frames are sampled
    evenly (at most ``MAX_READ_FRAMES``)."""
    average, used = _average(frames)
    found = _search(average)
    if not found:
        return KeyReading(key=None, bit_confidence=0.5, bits_correct_estimate=0.5, score=0.0, scale=1.0, frames=used)
    tried: set[tuple[float, int, int]] = set()
    for score, scale, dy, dx, soft, noise in found:
        if len(tried) >= DECODE_TRIES:
            break
        where = (round(scale, 3), dy, dx)
        if where in tried:
            continue
        tried.add(where)
        decoded = key_code.decode_soft(soft)
        if decoded is None:
            continue
        key, coded = decoded
        confidence = float(_confidence(soft, noise).mean())
        agree = float(np.mean((soft > 0) == (coded > 0)))
        return KeyReading(key=key, bit_confidence=confidence, bits_correct_estimate=agree, score=score, scale=scale, frames=used)
    # No key: the best alignment is the one that looked most like a mark
    # among thousands, so its soft values say nothing about any bit.
    return KeyReading(key=None, bit_confidence=0.5, bits_correct_estimate=0.5, score=found[0][0], scale=found[0][1], frames=used)


def read_key_from_file(path, max_frames: int = MAX_READ_FRAMES) -> KeyReading:
    """``read_key`` over a video or image file, decoding only the frames it reads."""
    return read_key(sample_frames(path, max_frames))


def picture_frames(path, max_frames: int = MAX_READ_FRAMES) -> list[np.ndarray]:
    """The RGB frames of a picture file (JPEG, PNG, WebP; an animated one's first
    ``max_frames``), read by Pillow: FFmpeg's WebP decoder reads no animated WebP."""
    from PIL import Image, ImageSequence

    with Image.open(path) as picture:
        frames = []
        for frame in ImageSequence.Iterator(picture):
            frames.append(np.asarray(frame.convert("RGB")))
            if len(frames) == max_frames:
                break
    return frames


def sample_frames(path, max_frames: int = MAX_READ_FRAMES) -> list[np.ndarray]:
    """Up to ``max_frames`` RGB frames spread over a video file (or the one frame of an image)."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no picture")
        stream = container.streams.video[0]
        total = stream.frames or 0
        if total > max_frames:
            wanted = set(np.linspace(0, total - 1, max_frames).round().astype(int).tolist())
            return [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(stream)) if i in wanted]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if len(frames) > max_frames:
        frames = [frames[i] for i in np.linspace(0, len(frames) - 1, max_frames).round().astype(int)]
    return frames
