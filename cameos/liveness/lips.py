"""Do the lips move with the speech? The inner-lip gap per frame, and its
correlation with the sound's loudness at the same moments.

A live speaker's mouth opens on the syllables; a still photo held up to the
camera, or a face whose video is not the one speaking, gives a correlation near
zero. A mouth that does not move at all counts as zero (a correlation of
landmark jitter with the speech means nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_LIP_CORRELATION = 0.3  # below this the lips are taken not to speak the sound
MIN_GAP_SPREAD = 0.04  # a mouth that moves less than this (in nose lengths) has not moved
MIN_FRAMES = 10  # frames with a face needed to measure anything

_UPPER_INNER = (61, 62, 63)
_LOWER_INNER = (67, 66, 65)


def lip_gap(points: np.ndarray) -> float:
    """How open the mouth is: the mean distance between the inner upper and lower lip,
    in lengths of the nose (bridge to base), which neither speech nor a head turn changes."""
    p = np.asarray(points, dtype=np.float64)
    gap = float(np.mean(np.linalg.norm(p[list(_LOWER_INNER)] - p[list(_UPPER_INNER)], axis=1)))
    nose = float(np.linalg.norm(p[33] - p[27]))
    return gap / nose if nose > 1e-6 else 0.0


def speech_envelope(samples: np.ndarray, sample_rate: int, times: Sequence[float], window_s: float) -> np.ndarray:
    """RMS loudness of ``samples`` in a ``window_s`` window centred on each of ``times``."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return np.zeros(len(times))
    # cumulative energy: every window in O(1)
    cum = np.concatenate([[0.0], np.cumsum(x * x)])
    half = max(1, int(window_s * sample_rate / 2))
    centres = np.round(np.asarray(times, dtype=np.float64) * sample_rate).astype(np.int64)
    lo = np.clip(centres - half, 0, x.size)
    hi = np.clip(centres + half, 0, x.size)
    n = np.maximum(hi - lo, 1)
    return np.sqrt((cum[hi] - cum[lo]) / n)


def lip_speech_correlation(
    gaps: Sequence[float | None],
    times: Sequence[float],
    samples: np.ndarray,
    sample_rate: int,
) -> float | None:
    """Pearson correlation between the lip gap and the speech's loudness over the frames
    with a face; None when too few frames have one, 0.0 when the mouth or the sound does
    not change."""
    t = np.asarray(times, dtype=np.float64)
    keep = np.array([g is not None for g in gaps], dtype=bool)
    if keep.sum() < MIN_FRAMES:
        return None
    g = np.array([v for v in gaps if v is not None], dtype=np.float64)
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.1
    env = speech_envelope(samples, sample_rate, t[keep], window_s=max(step, 0.04))
    spread = float(np.percentile(g, 90) - np.percentile(g, 10))
    if spread < MIN_GAP_SPREAD or np.std(env) <= 1e-9:
        return 0.0
    r = float(np.corrcoef(g, env)[0, 1])
    return 0.0 if not np.isfinite(r) else r
