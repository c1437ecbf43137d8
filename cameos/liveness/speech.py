"""Did the recording say the challenge's digits? Verification, not transcription.

PocketSphinx's free recognition of digits is unreliable on this model (it drops,
inserts and confuses words), so the check asks a narrower question: is the
expected digit sequence about as good an explanation of the audio as anything
else made of digits?

1. Energy gate: the recording must have speech at all (a level well above its
   own floor, for long enough for the number of digits). Silence and steady
   noise stop here.
2. Forced alignment: a grammar that is exactly the expected words (silence
   allowed between them). If the decoder cannot reach the grammar's end, the
   sequence does not fit (typically too few digits were said).
3. Free baseline: an open digit loop over the same audio; its best path is the
   "heard" hypothesis.
4. Per-digit margin: for each aligned digit, the forced path's acoustic score
   minus the free path's over the same frames, per frame and summed. Senone
   scores are normalised by the best senone of every frame (all senones are
   computed), so the two searches' scores are comparable. A digit that was not
   said scores far below the free path; the smallest per-frame margin is the
   verification score.
5. Unaccounted speech: loud frames that the forced alignment had to call
   silence while the free path put a digit there mean words were said that the
   challenge does not have.
6. When the free loop heard exactly the expected digits, that is accepted on
   its own (it never heard a wrong sequence as the expected one in the bench).

The thresholds come from ``bench/liveness_speech.py`` (docs/CAMEOS.md, "Speech
check: measured accuracy"). The decoder loads once per process, on first use.
"""

from __future__ import annotations

import threading
import time
from math import gcd, log
from typing import NamedTuple

import msgspec
import numpy as np

from core.transcribe import pcm16, with_noise_floor

SAMPLE_RATE = 16000
FRAME = 160  # PocketSphinx's 10 ms frame shift at 16 kHz

# Decision thresholds (measured; see the module docstring).
MIN_WORD_MARGIN = -2.0  # smallest per-digit margin accepted (score units per frame)
MIN_WORD_MARGIN_SUM = -80.0  # smallest per-digit margin summed over the digit's frames
MAX_UNACCOUNTED_FRAMES = 10  # loud frames in forced silence under a free-path digit (10 ms each)
MIN_DYNAMIC_DB = 10.0  # loud frames above the recording's own floor
MIN_LEVEL_DBFS = -60.0  # loud frames' level, before normalisation
MIN_SPEECH_S_PER_DIGIT = 0.08
FLOOR_DB = 45.0  # the faint noise laid under the speech before decoding (dB below it)
MARGIN_FLOOR = -50.0  # the score when nothing could be aligned

_WORDS = {
    "0": ("zero", "oh"),
    "1": ("one",),
    "2": ("two",),
    "3": ("three",),
    "4": ("four",),
    "5": ("five",),
    "6": ("six",),
    "7": ("seven",),
    "8": ("eight",),
    "9": ("nine",),
}
_PRONUNCIATIONS = {
    "zero": "Z IH R OW",
    "zero(2)": "Z IY R OW",
    "oh": "OW",
    "one": "W AH N",
    "two": "T UW",
    "three": "TH R IY",
    "four": "F AO R",
    "five": "F AY V",
    "six": "S IH K S",
    "seven": "S EH V AH N",
    "eight": "EY T",
    "nine": "N AY N",
}
_DIGIT_OF = {w: d for d, words in _WORDS.items() for w in words}
_ANY_DIGIT = "( " + " | ".join(w for w in _PRONUNCIATIONS if "(" not in w) + " )"


class SpeechResult(msgspec.Struct, kw_only=True):
    verified: bool
    heard: str | None  # the free digit loop's best hypothesis, as digits
    score: float  # the smallest per-digit margin (>= MIN_WORD_MARGIN passes); MARGIN_FLOOR if unaligned
    details: dict


class _Segment(NamedTuple):
    word: str
    start: int  # first frame
    end: int  # last frame, inclusive
    ascore: float  # natural log of the acoustic score, best-senone normalised


class _Decoder:
    """One PocketSphinx decoder with the digit words, computing every senone each frame."""

    def __init__(self) -> None:
        from pocketsphinx import Config, Decoder, get_model_path

        config = Config(
            hmm=get_model_path("en-us/en-us"),
            dict=None,
            lm=None,
            loglevel="FATAL",
            cmn="batch",  # the whole utterance is at hand: normalise over all of it
            compallsen=True,  # scores comparable across searches
            dither=False,  # _prepare lays its own seeded floor: the same audio always scores the same
        )
        self.decoder = Decoder(config)
        words = list(_PRONUNCIATIONS.items())
        for i, (word, phones) in enumerate(words):
            self.decoder.add_word(word, phones, i == len(words) - 1)
        self.decoder.add_jsgf_string("loop", _jsgf(f"{_ANY_DIGIT}+"))
        self.decoder.activate_search("loop")
        self.initial_cmn = self.decoder.get_cmn(False)
        self.cmn = self.initial_cmn
        self.lock = threading.Lock()

    def prime(self, pcm: bytes) -> None:
        """Estimate the utterance's cepstral mean from a fixed start, without searching. Every
        search of this utterance starts from it, so a result never depends on what the
        process decoded before (PocketSphinx carries the mean over between utterances)."""
        d = self.decoder
        d.set_cmn(self.initial_cmn)
        d.start_utt()
        d.process_raw(pcm, no_search=True, full_utt=True)
        d.end_utt()
        self.cmn = d.get_cmn(True)

    def decode(self, search: str, pcm: bytes) -> tuple[str | None, list[_Segment], int]:
        d = self.decoder
        d.activate_search(search)
        d.set_cmn(self.cmn)
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        segments = [
            _Segment(s.word, s.start_frame, s.end_frame, log(s.ascore) if s.ascore > 0 else -745.0)
            for s in (d.seg() or [])
            if s.word not in ("<s>", "</s>", "(NULL)")
        ]
        return (None if hyp is None else hyp.hypstr), segments, d.n_frames()

    def forced(self, expected: str, pcm: bytes) -> tuple[str | None, list[_Segment], int]:
        words = [_WORDS[c][0] if len(_WORDS[c]) == 1 else "( " + " | ".join(_WORDS[c]) + " )" for c in expected]
        self.decoder.add_jsgf_string("forced", _jsgf(" ".join(words)))
        return self.decode("forced", pcm)


def _jsgf(body: str) -> str:
    return f"#JSGF V1.0;\ngrammar digits;\npublic <utterance> = {body};\n"


_decoder: _Decoder | None = None
_decoder_lock = threading.Lock()


def _get_decoder() -> _Decoder:
    global _decoder
    with _decoder_lock:
        if _decoder is None:
            _decoder = _Decoder()
        return _decoder


def warm_up() -> None:
    """Load the model now (a worker process calls this at start-up)."""
    _get_decoder()


# ---------------------------------------------------------------- audio


def resample(samples: np.ndarray, src: int, dst: int = SAMPLE_RATE) -> np.ndarray:
    if src == dst:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(int(src), int(dst))
    return resample_poly(samples.astype(np.float32), dst // g, src // g).astype(np.float32)


def frame_db(samples: np.ndarray) -> np.ndarray:
    """Level of each 10 ms frame in dBFS."""
    n = len(samples) // FRAME
    if n == 0:
        return np.zeros(0)
    frames = samples[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


class _Levels(NamedTuple):
    floor_db: float  # 10th percentile frame level
    loud_db: float  # 97th percentile frame level
    speech: np.ndarray  # bool per frame: loud enough to be speech

    @property
    def dynamic_db(self) -> float:
        return self.loud_db - self.floor_db


def _levels(samples: np.ndarray) -> _Levels:
    db = frame_db(samples)
    if db.size == 0:
        return _Levels(-120.0, -120.0, np.zeros(0, dtype=bool))
    floor, loud = float(np.percentile(db, 10)), float(np.percentile(db, 97))
    threshold = max(floor + 0.25 * (loud - floor), loud - 30.0)
    return _Levels(floor, loud, db > threshold)


def _prepare(samples: np.ndarray, levels: _Levels) -> tuple[np.ndarray, int]:
    """Trim to the speech with half a second either side, bring the peak to -6 dBFS and lay
    a faint, seeded noise floor under it (clean synthetic audio with digital silence
    otherwise makes the silence model swallow words). Returns the samples and the offset
    of the first one in the input."""
    idx = np.flatnonzero(levels.speech)
    pad = SAMPLE_RATE // 2
    a = max(0, int(idx[0]) * FRAME - pad)
    b = min(len(samples), (int(idx[-1]) + 1) * FRAME + pad)
    x = samples[a:b].astype(np.float64)
    x -= x.mean()
    return with_noise_floor(x, FLOOR_DB).astype(np.float32), a


# ---------------------------------------------------------------- scoring


def _per_frame(segments: list[_Segment], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's score spread evenly over its frames (NaN where no segment), and
    whether a digit (not silence or a filler) covers each frame."""
    score = np.full(n, np.nan)
    word = np.zeros(n, dtype=bool)
    for s in segments:
        if s.end >= s.start:
            score[s.start : s.end + 1] = s.ascore / (s.end - s.start + 1)
            word[s.start : s.end + 1] = not _is_filler(s.word)
    return score, word


def _as_digits(hyp: str | None) -> str | None:
    if hyp is None:
        return None
    return "".join(_DIGIT_OF[w] for w in hyp.split() if w in _DIGIT_OF)


def _is_filler(word: str) -> bool:
    return word == "<sil>" or word.startswith("+") or word.startswith("<")


def verify_digits(samples: np.ndarray, sample_rate: int, expected: str) -> SpeechResult:
    """Whether ``samples`` (float32 mono, -1..1) say the digit string ``expected``."""
    if not expected or not expected.isdigit():
        raise ValueError("expected must be a non-empty string of digits")
    started = time.perf_counter()
    x = resample(np.asarray(samples, dtype=np.float32).reshape(-1), sample_rate)
    levels = _levels(x)
    speech_s = float(levels.speech.sum()) * FRAME / SAMPLE_RATE
    details: dict = {
        "expected": expected,
        "level_dbfs": round(levels.loud_db, 1),
        "dynamic_db": round(levels.dynamic_db, 1),
        "speech_s": round(speech_s, 2),
        "min_word_margin": MIN_WORD_MARGIN,
        "min_word_margin_sum": MIN_WORD_MARGIN_SUM,
    }

    def result(verified: bool, reason: str, score: float, heard: str | None = None) -> SpeechResult:
        details["reason"] = reason
        details["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return SpeechResult(verified=verified, heard=heard, score=round(float(score), 3), details=details)

    if levels.loud_db < MIN_LEVEL_DBFS or levels.dynamic_db < MIN_DYNAMIC_DB:
        return result(False, "no_speech", MARGIN_FLOOR)
    if speech_s < MIN_SPEECH_S_PER_DIGIT * len(expected):
        return result(False, "too_little_speech", MARGIN_FLOOR)

    prepared, offset = _prepare(x, levels)
    pcm = pcm16(prepared)
    decoder = _get_decoder()
    with decoder.lock:
        decoder.prime(pcm)
        forced_hyp, forced, n = decoder.forced(expected, pcm)
        loop_hyp, loop, _ = decoder.decode("loop", pcm)
    heard = _as_digits(loop_hyp)

    if _as_digits(forced_hyp) != expected:
        # the search could not reach the grammar's end: the sequence does not fit the audio
        return result(False, "not_aligned", MARGIN_FLOOR, heard)

    forced_score, _ = _per_frame(forced, n)
    loop_score, loop_word = _per_frame(loop, n)
    diff = forced_score - loop_score
    speech = np.zeros(n, dtype=bool)
    own = levels.speech[offset // FRAME : offset // FRAME + n]
    speech[: len(own)] = own
    t0 = offset / SAMPLE_RATE
    words, unaccounted = [], 0
    for seg in forced:
        frames = slice(seg.start, seg.end + 1)
        if _is_filler(seg.word):
            unaccounted = max(unaccounted, int((speech[frames] & loop_word[frames]).sum()))
            continue
        d = diff[frames]
        mean = float(np.nanmean(d)) if np.isfinite(d).any() else 0.0
        total = float(np.nansum(d))
        words.append(
            {
                "digit": _DIGIT_OF[seg.word.split("(")[0]],
                "start_s": round(t0 + seg.start / 100, 2),
                "end_s": round(t0 + (seg.end + 1) / 100, 2),
                "margin": round(max(mean, MARGIN_FLOOR), 3),
                "margin_sum": round(total, 1),
            }
        )
    details["words"] = words
    details["unaccounted_speech_s"] = unaccounted / 100
    score = min(w["margin"] for w in words)
    if heard == expected:
        return result(True, "heard", score, heard)
    if unaccounted > MAX_UNACCOUNTED_FRAMES:
        return result(False, "extra_speech", score, heard)
    if score < MIN_WORD_MARGIN or min(w["margin_sum"] for w in words) < MIN_WORD_MARGIN_SUM:
        return result(False, "digit_mismatch", score, heard)
    return result(True, "ok", score, heard)
