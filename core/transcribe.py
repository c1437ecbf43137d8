"""Free English transcription of a sound track, offline: PocketSphinx's en-US
model (acoustic model, trigram language model and CMU dictionary, all shipped
inside the ``pocketsphinx`` wheel).

``transcribe`` takes float samples, (channels, samples) or (samples,), at any
rate, and returns the words it heard. Before the decoder:

1. mixed down to mono, resampled to 16 kHz, DC offset removed;
2. a speech gate: PocketSphinx's voice activity detector must find at least
   ``MIN_SPEECH_S`` of voiced 30 ms frames, or the track is not decoded at all
   (silence, hum and the tiny models' noise cost a few milliseconds);
3. the peak brought to -6 dBFS and a faint seeded noise floor laid under it
   (``FLOOR_DB`` below the speech): clean synthetic speech over digital
   silence otherwise makes the silence model swallow words.

The decoder runs one pass (no flat-lexicon rescoring) with a narrower search
than PocketSphinx's defaults, about three times faster for the same words on
this model. Accuracy is modest: clear speech comes back mostly right, word
errors are common (docs/SAFETY.md, "Output moderation").

The decoder loads once per process (``warm_up``) and serves one utterance at a
time (a lock); its front end is reset before each, so a track's transcript never
depends on what the process heard before; ``transcribe`` is blocking, so callers on an event loop run it
in a thread."""

from __future__ import annotations

import threading
import time
from math import gcd
from typing import Any

import msgspec
import numpy as np

SAMPLE_RATE = 16000
MIN_SPEECH_S = 0.3  # voiced audio the gate needs before anything is decoded
SILENT_DBFS = -50.0  # a track whose peak is below this is silent
FLOOR_DB = 40.0  # the noise floor laid under the speech, in dB below its level
VAD_MODE = 3  # PocketSphinx's Vad.STRICT

_lock = threading.Lock()
_decoder: Any = None
_vad: Any = None


class Transcript(msgspec.Struct, frozen=True, kw_only=True):
    text: str  # the words heard, lower case ("" when none)
    speech_s: float  # voiced audio the gate found
    decoded: bool  # whether the decoder ran (False: the gate found no speech)
    elapsed_ms: float


def _load() -> tuple[Any, Any]:
    global _decoder, _vad
    if _decoder is None:
        with _lock:
            if _decoder is None:
                from pocketsphinx import Config, Decoder, Vad, get_model_path

                config = Config(
                    hmm=get_model_path("en-us/en-us"),
                    lm=get_model_path("en-us/en-us.lm.bin"),
                    dict=get_model_path("en-us/cmudict-en-us.dict"),
                    loglevel="FATAL",
                    fwdflat=False,  # one pass: the second costs as much again for little here
                    maxhmmpf=3000,
                    maxwpf=5,
                    dither=False,  # the floor below is seeded: the same track always reads the same
                    cmn="batch",  # the whole track is at hand: normalise over it, never over earlier ones
                )
                _vad = Vad(VAD_MODE, SAMPLE_RATE)
                _decoder = Decoder(config)
    return _decoder, _vad


def warm_up() -> None:
    """Load the model now (a process that checks sound calls this at start)."""
    _load()


def _mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0)
    x = x.reshape(-1).astype(np.float64)
    if sample_rate != SAMPLE_RATE and x.size:
        from scipy.signal import resample_poly

        g = gcd(int(sample_rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(sample_rate) // g)
    return x - x.mean() if x.size else x


def pcm16(x: np.ndarray) -> bytes:
    """Float samples (-1..1) as 16-bit little-endian PCM, what PocketSphinx reads."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _voiced_seconds(vad: Any, x: np.ndarray) -> float:
    step = vad.frame_bytes // 2
    pcm = pcm16(x)
    voiced = sum(
        1 for at in range(0, len(x) - step + 1, step) if vad.is_speech(pcm[at * 2 : (at + step) * 2])
    )
    return voiced * step / SAMPLE_RATE


def with_noise_floor(x: np.ndarray, floor_db: float = FLOOR_DB) -> np.ndarray:
    """``x`` (float64, mean removed) with its peak at -6 dBFS and a faint seeded noise
    laid ``floor_db`` below the level of its loud 10 ms frames: clean synthetic speech
    over digital silence otherwise makes PocketSphinx's silence model swallow words,
    and the fixed seed makes the same track always read the same."""
    x = x * (0.5 / (float(np.max(np.abs(x))) or 1.0))
    n = len(x) // 160 * 160
    energy = np.mean(x[:n].reshape(-1, 160) ** 2, axis=1) if n else np.zeros(1)
    level = float(np.sqrt(np.mean(energy[energy >= energy.max() * 1e-3]))) if energy.max() > 0 else 0.0
    rng = np.random.default_rng(0)
    return x + rng.standard_normal(len(x)) * level * 10 ** (-floor_db / 20)


def transcribe(samples: np.ndarray, sample_rate: int) -> Transcript:
    """The English words in ``samples`` (float, -1..1), as PocketSphinx hears them."""
    started = time.perf_counter()
    decoder, vad = _load()
    x = _mono_16k(samples, sample_rate)

    def done(text: str, speech_s: float, decoded: bool) -> Transcript:
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return Transcript(text=text, speech_s=round(speech_s, 2), decoded=decoded, elapsed_ms=elapsed)

    if x.size == 0 or 20 * np.log10(float(np.max(np.abs(x))) + 1e-12) < SILENT_DBFS:
        return done("", 0.0, False)
    with _lock:
        speech_s = _voiced_seconds(vad, x * (0.5 / float(np.max(np.abs(x)))))
    if speech_s < MIN_SPEECH_S:
        return done("", speech_s, False)
    pcm = pcm16(with_noise_floor(x))
    with _lock:
        # a fresh front end: PocketSphinx otherwise carries feature state over from the last
        # utterance, and the same track would read differently after another one
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
    words = [w for w in (hyp.hypstr.split() if hyp is not None else []) if not w.startswith(("<", "["))]
    return done(" ".join(words), speech_s, True)
