"""Output moderation: what every finished clip must pass before its job is
``completed``. The worker runs the checks on the frames and the sound track it
holds in memory, before anything is marked, encoded or stored.

- **Frames** (``check_frames``): a sample of the clip's frames (the first,
  about one a second, the last; at most ``MAX_FRAMES``) through NudeNet
  (``core.nudity.detect``), each decided by ``policy.images.judge_nudity``
  (strict for under-18 creators).
- **Sound** (``check_sound``): the track transcribed by PocketSphinx
  (``core.transcribe``), the transcript moderated as a prompt is
  (``policy.prompt.assess_prompt``, the decision of ``moderate_prompt`` with
  the layer that made it) in windows of ``WINDOW_WORDS`` words. Only the
  harmful categories refuse (``HARMFUL``): an empty transcript (no speech, or
  nothing recognised) passes, and so does ``real_person``: a name in a
  transcript is weak evidence (the recogniser turns ordinary words into
  names, "cocaine" into "michael caine"), saying a name is not showing a
  likeness, and faces have their own check. A transcript is noisier than a
  typed prompt, so the rules (unambiguous phrases) refuse as they do for
  prompts, but the learned classifier only on a window of at least
  ``CLASSIFIER_MIN_WORDS`` words and when it is sure: P(not benign) >=
  ``TRANSCRIPT_CLASSIFIER_MIN``, or ``minors`` at its own zero-tolerance
  threshold (docs/SAFETY.md, "Output moderation", has the measurement
  behind it).
- **Likeness**: not here. Generation knows no cameos; the worker's command
  passes the cameos' check in (``gen.worker.LikenessCheck``) and the worker
  gives it the same sampled frames.

``check_clip`` runs the frames and the sound and returns a ``Report`` with the
first refusal (``Finding``), what was looked at and what each part cost. All
of it is blocking (run it in a thread); the models load once per process
(``warm_up``)."""

from __future__ import annotations

import time

import msgspec
import numpy as np

from policy.categories import CATEGORIES
from policy.decision import Decision
from policy.images import judge_nudity

MAX_FRAMES = 16  # frames looked at per clip, at most
WINDOW_WORDS = 40  # words of transcript moderated at once
WINDOW_STEP = 30  # windows overlap, so a phrase across a cut is seen whole once
# what refuses a sound track: every category but naming a person (and the
# length checks, which speak of prompts)
HARMFUL = frozenset(CATEGORIES) - {"real_person"}
# the classifier's refusals of a transcript stand only this sure (minors aside,
# at its own threshold) and only on this many words: misheard benign speech
# reads as random words, which the prompts' strict thresholds refused one time
# in ten (bench/output_checks.py --speech-set; docs/SAFETY.md)
TRANSCRIPT_CLASSIFIER_MIN = 0.95
CLASSIFIER_MIN_WORDS = 4


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """Why an output is refused."""

    check: str  # "frames" | "sound" | "likeness"
    category: str  # policy.categories' name ("sexual", "violence" …) or the likeness check's
    reason: str  # a sentence for the creator
    details: dict = {}  # what was found: the frame and its labels, the transcript …


class Report(msgspec.Struct, kw_only=True):
    """What the checks of one clip found and what they cost."""

    refusal: Finding | None
    frames_checked: int
    transcript: str
    frames_ms: float
    sound_ms: float

    @property
    def total_ms(self) -> float:
        return round(self.frames_ms + self.sound_ms, 1)


def warm_up() -> None:
    """Load the detector, the recogniser and the prompt classifier now (worker start)."""
    from core import nudity, transcribe
    from policy.prompt import load_models

    nudity.warm_up()
    nudity.detect(np.zeros((64, 64, 3), dtype=np.uint8))  # onnxruntime's first run is the slow one
    transcribe.warm_up()
    load_models()


def sample_indices(count: int, fps: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """Which of ``count`` frames to look at: the first, one every second, the
    last; spread evenly over the clip when that is more than ``max_frames``."""
    if count <= 0:
        return []
    step = max(1, int(fps))
    picked = sorted(set(range(0, count, step)) | {count - 1})
    if len(picked) > max_frames:
        picked = sorted({int(round(i)) for i in np.linspace(0, count - 1, max_frames)})
    return picked


def sample_frames(frames: np.ndarray, fps: int, max_frames: int = MAX_FRAMES) -> list[np.ndarray]:
    """Copies of the sampled frames (the clip's frames are marked in place later)."""
    return [np.array(frames[i], dtype=np.uint8, copy=True) for i in sample_indices(len(frames), fps, max_frames)]


def check_frames(frames: list[np.ndarray], *, strict: bool = False) -> Finding | None:
    """NudeNet on each sampled frame; the first frame refused ends the check."""
    from core.nudity import detect

    for index, frame in enumerate(frames):
        found = detect(frame)
        decision = judge_nudity(((d.label, d.score) for d in found), strict=strict)
        if not decision.allowed:
            labels = [{"label": d.label, "score": round(d.score, 3)} for d in found[:8]]
            return Finding(
                check="frames",
                category=decision.category or "sexual",
                reason=decision.reason or "The video shows nudity.",
                details={"sample": index, "detections": labels},
            )
    return None


def _windows(words: list[str]) -> list[str]:
    if len(words) <= WINDOW_WORDS:
        return [" ".join(words)]
    starts = range(0, len(words) - WINDOW_WORDS + WINDOW_STEP, WINDOW_STEP)
    return [" ".join(words[s : s + WINDOW_WORDS]) for s in starts]


def _sure(probabilities: dict[str, float], category: str | None, words: int) -> bool:
    if words < CLASSIFIER_MIN_WORDS:
        return False
    return category == "minors" or 1.0 - probabilities.get("benign", 0.0) >= TRANSCRIPT_CLASSIFIER_MIN


def judge_transcript(text: str, *, strict: bool = False) -> Decision:
    """A transcript's decision: refused only under a ``HARMFUL`` category, by
    the rules, or by the classifier when it is sure (``_sure``; pure but for
    the classifier, which loads once per process)."""
    from policy.prompt import assess_prompt

    words = text.split()
    if not words:
        return Decision.allow()
    for window in _windows(words):
        assessed = assess_prompt(window, strict=strict)
        decision = assessed.decision
        if decision.allowed or decision.category not in HARMFUL:
            continue
        if assessed.layer == "classifier" and not _sure(assessed.probabilities, decision.category, len(window.split())):
            continue
        return decision
    return Decision.allow()


def check_sound(audio: np.ndarray, sample_rate: int, *, strict: bool = False) -> tuple[Finding | None, str]:
    """The track's transcript and, when it says something harmful, the refusal."""
    from core.transcribe import transcribe

    heard = transcribe(audio, sample_rate)
    decision = judge_transcript(heard.text, strict=strict)
    if decision.allowed:
        return None, heard.text
    finding = Finding(
        check="sound",
        category=decision.category or "sound",
        reason=f"The sound track says something that is not allowed. {decision.reason or ''}".strip(),
        details={"transcript": heard.text[:1000]},
    )
    return finding, heard.text


def check_clip(frames: list[np.ndarray], audio: np.ndarray | None, sample_rate: int, *, strict: bool = False) -> Report:
    """The frame and sound checks of one clip (``frames``: the sample from
    ``sample_frames``). Frames first: the sound is not transcribed once a
    frame refused."""
    started = time.perf_counter()
    refusal = check_frames(frames, strict=strict)
    frames_done = time.perf_counter()
    transcript = ""
    if refusal is None and audio is not None and np.size(audio):
        refusal, transcript = check_sound(audio, sample_rate, strict=strict)
    sound_done = time.perf_counter()
    return Report(
        refusal=refusal,
        frames_checked=len(frames),
        transcript=transcript,
        frames_ms=round((frames_done - started) * 1000, 1),
        sound_ms=round((sound_done - frames_done) * 1000, 1),
    )
