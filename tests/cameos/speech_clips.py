"""Spoken digits for the liveness tests, made at test time by eSpeak NG.

The ``espeakng-loader`` wheel ships libespeak-ng and its voice data; this
module drives the library through ctypes (no apt package, no files on disk),
resamples to the rate asked for and lays a quiet-room noise floor under the
speech (seeded).

eSpeak NG carries state from one utterance to the next (its pitch flutter),
which neither a new seed nor terminating and initialising the library again
resets: the same text said after other texts comes out different, so a test's
audio would depend on which tests ran before it. Each text, voice and rate is
therefore synthesised by a fresh child process (this file run as a script, about
0.1 s) and cached for the process.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from functools import lru_cache
from math import gcd

import numpy as np

# espeak_AUDIO_OUTPUT and espeak_PARAMETER values from speak_lib.h
_SYNCHRONOUS = 0x02
_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1

# Named speaking rates in words per minute (eSpeak NG's default is 175).
RATES = {"slow": 130, "normal": 165, "fast": 210}

# Voices used by the tests: US English (male), a US female variant and British English
# ("en" is eSpeak NG's British voice) with a male variant.
VOICES = ("en-us", "en-us+f3", "en+m3")

_WORDS = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four",
    "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine",
}

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """The process's one eSpeak NG instance (the library keeps global state)."""

    def __init__(self) -> None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise RuntimeError("eSpeak NG failed to initialise")
        self.lib = lib
        self.sample_rate = rate
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # kept alive as long as the instance
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, _events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def say(self, text: str, voice: str, wpm: int) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"unknown eSpeak NG voice {voice!r}")
        self.lib.espeak_SetParameter(_RATE, int(wpm), 0)
        self.lib.espeak_ng_SetRandSeed(0)  # breath noise and the like: the same text always sounds the same
        data = text.encode() + b"\0"
        buf = ctypes.create_string_buffer(data)
        self._chunks = []
        if self.lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None) != 0:
            raise RuntimeError("eSpeak NG failed to synthesise")
        self.lib.espeak_Synchronize()
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._chunks).astype(np.float32) / 32768.0


@lru_cache(maxsize=1)
def _espeak() -> _Espeak:
    return _Espeak()


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    g = gcd(src, dst)
    from scipy.signal import resample_poly  # here, not at the top: the child process needs no scipy

    return resample_poly(x, dst // g, src // g).astype(np.float32)


def _words_per_minute(rate: int | str) -> int:
    if isinstance(rate, str):
        return RATES[rate]
    return int(rate)


def room_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS pinkish noise: white noise through a gentle low-pass, like a quiet room's hum and hiss."""
    white = rng.standard_normal(n + 2048)
    from scipy.signal import lfilter

    shaped = lfilter([1.0], [1.0, -0.9], white)[2048:] + 0.3 * white[2048:]
    return (shaped / np.sqrt(np.mean(shaped**2))).astype(np.float32)


def speech_rms(x: np.ndarray, sample_rate: int) -> float:
    """RMS over the loud 20 ms frames (within 30 dB of the loudest): the level of the speech itself."""
    hop = max(1, sample_rate // 50)
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    if energy.size == 0 or energy.max() <= 0:
        return 0.0
    loud = energy[energy > energy.max() * 1e-3]
    return float(np.sqrt(loud.mean()))


def add_noise_floor(x: np.ndarray, snr_db: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Lay room noise under ``x`` at ``snr_db`` below the speech level."""
    rng = np.random.default_rng(seed)
    level = speech_rms(x, sample_rate)
    noise = room_noise(len(x), rng) * (level * 10 ** (-snr_db / 20))
    return np.clip(x + noise, -1.0, 1.0).astype(np.float32)


@lru_cache(maxsize=512)
def _said(text: str, voice: str, wpm: int) -> tuple[np.ndarray, int]:
    """``text`` said by a fresh eSpeak NG (a child process): the same words always sound the same."""
    child = subprocess.run(
        [sys.executable, __file__, text, voice, str(wpm)], capture_output=True, check=False, timeout=60
    )
    if child.returncode != 0:
        raise RuntimeError(f"eSpeak NG failed: {child.stderr.decode(errors='replace')[-500:]}")
    rate = int.from_bytes(child.stdout[:4], "little")
    raw = np.frombuffer(child.stdout[4:], dtype="<i2").astype(np.float32) / 32768.0
    raw.setflags(write=False)
    return raw, rate


def _say_to_stdout(text: str, voice: str, wpm: int) -> None:
    """The child's side of ``_said``: the sample rate (4 bytes) then 16-bit PCM on stdout."""
    engine = _espeak()
    raw = engine.say(text, voice, wpm)
    pcm = np.round(raw * 32768.0).astype("<i2")
    sys.stdout.buffer.write(int(engine.sample_rate).to_bytes(4, "little") + pcm.tobytes())
    sys.stdout.buffer.flush()


def speak(text: str, *, voice: str, rate: int | str = "normal", sample_rate: int = 16000) -> np.ndarray:
    """``text`` spoken by eSpeak NG, float32 mono at ``sample_rate``, without noise or padding."""
    raw, src = _said(text, voice, _words_per_minute(rate))
    return _resample(raw, src, sample_rate).copy()


def speak_digits(
    digits: str,
    *,
    voice: str,
    rate: int | str,
    noise_db: float | None = 40.0,
    sample_rate: int = 16000,
    seed: int = 0,
    lead_s: float = 0.4,
    tail_s: float = 0.4,
) -> np.ndarray:
    """The digit string spoken as one phrase ("four eight two ...") with ``lead_s``/``tail_s``
    of room around it, float32 mono in -1..1. ``noise_db`` is the speech-to-noise ratio of
    the room's noise floor (None: digital silence around clean speech). Peaks sit near
    -6 dBFS."""
    if not digits or not digits.isdigit():
        raise ValueError("digits must be a non-empty string of 0-9")
    speech = speak(" ".join(_WORDS[d] for d in digits), voice=voice, rate=rate, sample_rate=sample_rate)
    peak = float(np.max(np.abs(speech))) if speech.size else 0.0
    if peak > 0:
        speech = speech * (0.5 / peak)
    pad_a = np.zeros(int(lead_s * sample_rate), dtype=np.float32)
    pad_b = np.zeros(int(tail_s * sample_rate), dtype=np.float32)
    clip = np.concatenate([pad_a, speech.astype(np.float32), pad_b])
    if noise_db is None:
        return clip
    return add_noise_floor(clip, noise_db, sample_rate, seed)


if __name__ == "__main__":
    _say_to_stdout(sys.argv[1], sys.argv[2], int(sys.argv[3]))
