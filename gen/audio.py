"""Sound tracks as arrays: shapes, lengths and the text that prompts them.

Owns the conventions every sound in the house follows: float32 samples in
[-1, 1] shaped (channels, samples), exactly as long as the video they go
with, and how a video prompt becomes a prompt for a text-to-audio model. No
model and no codec here (``gen.pipelines`` makes sound, ``gen.encode`` writes
it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Ramp at a cut end so trimming never leaves a click.
FADE_S = 0.01
AUDIO_NEGATIVE_PROMPT = "low quality, distorted, clipping, silence"


def samples_for(num_frames: int, fps: int, sample_rate: int) -> int:
    """Samples in a track exactly as long as ``num_frames`` frames at ``fps``."""
    if num_frames < 1 or fps < 1 or sample_rate < 1:
        raise ValueError(f"need positive frames, fps and sample rate, got {num_frames}, {fps}, {sample_rate}")
    return int(round(num_frames * sample_rate / fps))


def as_audio(value: Any) -> np.ndarray:
    """A waveform from a pipeline (torch or numpy; (B, C, N), (C, N) or (N,)) as float32 (C, N) in [-1, 1]."""
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").float().numpy()
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 3:
        array = array[0]
    elif array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] < 1:
        raise ValueError(f"audio must be shaped (channels, samples), got {array.shape}")
    array = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.ascontiguousarray(np.clip(array, -1.0, 1.0), dtype=np.float32)


def fit_length(audio: np.ndarray, samples: int, sample_rate: int) -> np.ndarray:
    """Trim or zero-pad ``audio`` (C, N) to exactly ``samples``, fading out where it was cut."""
    audio = as_audio(audio)
    channels, have = audio.shape
    if have == samples:
        return audio
    if have > samples:
        out = audio[:, :samples].copy()
    else:
        out = np.zeros((channels, samples), dtype=np.float32)
        out[:, :have] = audio
    fade = min(int(sample_rate * FADE_S), min(have, samples))
    if fade > 1:
        end = min(have, samples)
        out[:, end - fade : end] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def silence(channels: int, samples: int) -> np.ndarray:
    return np.zeros((channels, samples), dtype=np.float32)


def crossfade_concat(parts: list[np.ndarray], overlap: int) -> np.ndarray:
    """Join (C, N) segments end to start, blending ``overlap`` samples at each seam."""
    if not parts:
        raise ValueError("nothing to join")
    out = parts[0]
    for part in parts[1:]:
        k = min(overlap, out.shape[1], part.shape[1])
        if k > 0:
            ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
            seam = out[:, -k:] * (1.0 - ramp) + part[:, :k] * ramp
            out = np.concatenate([out[:, :-k], seam, part[:, k:]], axis=1)
        else:
            out = np.concatenate([out, part], axis=1)
    return out


def audio_prompt(video_prompt: str) -> str:
    """What a text-to-audio model is asked for, given the video's prompt."""
    text = " ".join(str(video_prompt).split()).rstrip(" .")
    if not text:
        return "ambient room tone, natural sound"
    return f"{text}. Natural sound effects and ambience matching the scene, high quality"
