"""The whole liveness check of one recording: decode it, follow the one face
through it, and check the head turns, the lips against the speech, the identity
across the clip and the spoken digits; describe the likeness when a face was
followed (embedding, reference frames, voice sample).

Runs synchronously and CPU-bound (a process pool's job). On two cores a 6-8 s
clip takes a few seconds: the detector and the landmarks run on every sampled
frame (about 10 a second, at most 480 px), the 128-d descriptor only on a few.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

from cameos.liveness import faces, lips, pose
from cameos.liveness.faces import Box
from cameos.liveness.recording import (
    NO_AUDIO,
    NO_VIDEO,
    TOO_SHORT,
    Recording,
    RecordingError,
    decode_recording,
)
from cameos.liveness.report import (
    DIGITS,
    DURATION,
    FACE_COUNT,
    IDENTITY,
    LIPS,
    MOVES,
    LivenessReport,
)
from cameos.liveness.report import NO_AUDIO as FAIL_NO_AUDIO
from cameos.liveness.report import NO_VIDEO as FAIL_NO_VIDEO

# A detection at dlib's default confidence (score >= 0) counts as a face. While one face is
# followed, a weaker detection where it just was keeps following it through a turn (the
# frontal detector's confidence drops as the head turns) without counting as a new face.
FACE_SCORE = 0.0
FOLLOW_SCORE = -0.6
FOLLOW_IOU = 0.3
MAX_MISSING_FRACTION = 0.3  # of the analysed frames, at most this many without the face
MIN_EXTRA_FACE_FRAMES = 2  # a second face must show in at least this many frames
IDENTITY_SAMPLES = 8  # descriptors spread over the clip
FRONTAL_DEG = 12.0  # within this of the baseline yaw a frame is frontal
REFERENCE_FRAMES = 4  # 3-5 reference images
VOICE_MAX_S = 10.0


@dataclass(slots=True)
class FrameFace:
    """What one analysed frame shows."""

    count: int  # faces counted in the frame
    box: Box | None = None  # the followed face
    points: np.ndarray | None = None
    yaw: float | None = None
    pitch: float | None = None
    gap: float | None = None


@dataclass(slots=True)
class FaceTrack:
    frames: list[FrameFace]
    baseline_yaw: float | None
    faces_min: int
    faces_max: int
    frames_without_face: int
    frames_with_extra_faces: int

    @property
    def yaws(self) -> list[float | None]:
        return [f.yaw for f in self.frames]

    @property
    def gaps(self) -> list[float | None]:
        return [f.gap for f in self.frames]


@dataclass(slots=True)
class Identity:
    indices: list[int]  # analysed frames whose descriptor was computed
    descriptors: list[np.ndarray]
    spread: float | None  # largest distance between two of them
    embedding: np.ndarray | None  # mean of the frontal ones


def _iou(a: Box, b: Box) -> float:
    x0, y0 = max(a.left, b.left), max(a.top, b.top)
    x1, y1 = min(a.right, b.right), min(a.bottom, b.bottom)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def track_faces(frames: list[np.ndarray]) -> FaceTrack:
    """Count the faces in every frame and follow the one face: its landmarks, head pose
    and lip gap."""
    out: list[FrameFace] = []
    last: Box | None = None
    for rgb in frames:
        boxes = faces.detect_faces(rgb, upsample=0, threshold=FOLLOW_SCORE)
        sure = [b for b in boxes if b.score >= FACE_SCORE]
        followed: Box | None = None
        if sure:
            # the face being followed, else the largest
            if last is not None:
                followed = max(sure, key=lambda b: (_iou(b, last), b.area))
                if _iou(followed, last) < FOLLOW_IOU:
                    followed = sure[0]
            else:
                followed = sure[0]
            count = len(sure)
        elif last is not None:
            near = [b for b in boxes if _iou(b, last) >= FOLLOW_IOU]
            if near:
                followed = max(near, key=lambda b: b.score)
            count = 1 if followed is not None else 0
        else:
            count = 0
        ff = FrameFace(count=count, box=followed)
        if followed is not None:
            pts = faces.landmarks(rgb, followed)
            ff.points = pts
            p = pose.head_pose(pts, (rgb.shape[1], rgb.shape[0]))
            if p is not None:
                ff.yaw, ff.pitch = p.yaw, p.pitch
            ff.gap = lips.lip_gap(pts)
        out.append(ff)
        last = followed if followed is not None else last
    counts = [f.count for f in out]
    return FaceTrack(
        frames=out,
        baseline_yaw=pose.frontal_baseline([f.yaw for f in out]),
        faces_min=min(counts) if counts else 0,
        faces_max=max(counts) if counts else 0,
        frames_without_face=sum(1 for c in counts if c == 0),
        frames_with_extra_faces=sum(1 for c in counts if c > 1),
    )


def _frontal_deviation(track: FaceTrack, i: int) -> float:
    f = track.frames[i]
    if f.yaw is None or track.baseline_yaw is None:
        return 90.0
    return abs(f.yaw - track.baseline_yaw)


def check_identity(frames: list[np.ndarray], track: FaceTrack, samples: int = IDENTITY_SAMPLES) -> Identity:
    """Descriptors of the most frontal single-face frame in each of ``samples`` stretches of
    the clip; their largest pairwise distance says whether the face stayed the same person."""
    usable = [i for i, f in enumerate(track.frames) if f.box is not None and f.count == 1 and f.yaw is not None]
    if not usable:
        return Identity(indices=[], descriptors=[], spread=None, embedding=None)
    chunks = np.array_split(np.array(usable), min(samples, len(usable)))
    picks = [int(min(chunk, key=lambda i: _frontal_deviation(track, int(i)))) for chunk in chunks if len(chunk)]
    descriptors = [faces.descriptor(frames[i], track.frames[i].box) for i in picks]
    spread = 0.0
    for a in range(len(descriptors)):
        for b in range(a + 1, len(descriptors)):
            spread = max(spread, faces.distance(descriptors[a], descriptors[b]))
    frontal = [d for i, d in zip(picks, descriptors) if _frontal_deviation(track, i) <= FRONTAL_DEG]
    embedding = np.mean(frontal if frontal else descriptors, axis=0)
    return Identity(indices=picks, descriptors=descriptors, spread=float(spread), embedding=embedding)


def _sharpness(gray: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _face_crop(rgb: np.ndarray, box: Box, scale: float = 2.2) -> np.ndarray:
    cx, cy = box.center
    half = max(box.width, box.height) * scale / 2.0
    h, w = rgb.shape[:2]
    x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
    y0, y1 = int(max(0, cy - half * 1.1)), int(min(h, cy + half * 0.9))
    return rgb[y0:y1, x0:x1]


def reference_jpegs(frames: list[np.ndarray], track: FaceTrack, identity: Identity, count: int = REFERENCE_FRAMES) -> list[bytes]:
    """The best frontal frames among those the identity check looked at, cropped to head
    and shoulders: frontal, sharp, mouth closed."""
    import cv2
    from PIL import Image

    scored = []
    for i in identity.indices:
        f = track.frames[i]
        if f.box is None:
            continue
        dev = _frontal_deviation(track, i)
        crop = _face_crop(frames[i], f.box)
        if crop.size == 0:
            continue
        sharp = _sharpness(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))
        score = -dev - 40.0 * (f.gap or 0.0) + 2.0 * np.log1p(sharp)
        scored.append((dev <= FRONTAL_DEG, score, i, crop))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    out = []
    for _frontal, _score, _i, crop in scored[:count]:
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def voice_sample(samples: np.ndarray, sample_rate: int, max_s: float = VOICE_MAX_S) -> bytes | None:
    """The spoken part of the sound (loud 20 ms frames, with a little room around them) as a
    16-bit mono WAV; None when nothing stands out of the noise."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    hop = sample_rate // 50
    if x.size < hop * 5:
        return None
    frames = x[: x.size // hop * hop].reshape(-1, hop).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    floor, peak = np.percentile(db, 10), db.max()
    if peak - floor < 10:
        return None
    loud = np.flatnonzero(db > max(floor + 10, peak - 35))
    pad = int(0.25 * 50)
    a = max(0, loud[0] - pad) * hop
    b = min(len(db), loud[-1] + pad + 1) * hop
    b = min(b, a + int(max_s * sample_rate))
    pcm = (np.clip(x[a:b], -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _failed_before_analysis(err: RecordingError, digits: str, moves: list[str]) -> LivenessReport:
    codes = {TOO_SHORT: DURATION, NO_AUDIO: FAIL_NO_AUDIO, NO_VIDEO: FAIL_NO_VIDEO}
    return LivenessReport(
        ok=False,
        failures=[codes[c] for c in (err.code, *err.also)],
        duration_s=err.duration_s or 0.0,  # a recording too short says how long it was
        frames_analysed=0,
        digits_expected=digits,
        digits_heard=None,
        digits_verified=False,
        speech_score=None,
        moves_expected=list(moves),
        moves_seen=[],
        yaw_track=[],
        faces_min=0,
        faces_max=0,
        frames_without_face=0,
        lip_speech_correlation=None,
        identity_spread=None,
    )


def analyse(recording: Recording, digits: str, moves: list[str]) -> LivenessReport:
    """Every check on a decoded recording."""
    from cameos.liveness.speech import verify_digits

    frames = recording.frames
    track = track_faces(frames)
    n = len(frames)
    seen = pose.moves_from_yaw(track.yaws, recording.fps, times=recording.times.tolist(), baseline=track.baseline_yaw)
    corr = lips.lip_speech_correlation(track.gaps, recording.times, recording.audio, recording.sample_rate)
    identity = check_identity(frames, track)
    speech = verify_digits(recording.audio, recording.sample_rate, digits)

    failures: list[str] = []
    if not speech.verified:
        failures.append(DIGITS)
    if [m.direction for m in seen] != list(moves):
        failures.append(MOVES)
    missing = track.frames_without_face > MAX_MISSING_FRACTION * n
    if track.faces_max == 0 or missing or track.frames_with_extra_faces >= MIN_EXTRA_FACE_FRAMES:
        failures.append(FACE_COUNT)
    # with no face ever seen, the lips and the identity were not judged: face_count says why
    if track.faces_max > 0 and (corr is None or corr < lips.MIN_LIP_CORRELATION):
        failures.append(LIPS)
    if track.faces_max > 0 and (identity.spread is None or identity.spread > faces.SAME_PERSON_DISTANCE):
        failures.append(IDENTITY)

    face_ok = FACE_COUNT not in failures and IDENTITY not in failures
    return LivenessReport(
        ok=not failures,
        failures=failures,
        duration_s=recording.duration_s,
        frames_analysed=n,
        digits_expected=digits,
        digits_heard=speech.heard,
        digits_verified=bool(speech.verified),
        speech_score=None if speech.score is None else float(speech.score),
        moves_expected=list(moves),
        moves_seen=seen,
        yaw_track=[None if y is None else round(float(y), 1) for y in track.yaws],
        faces_min=track.faces_min,
        faces_max=track.faces_max,
        frames_without_face=track.frames_without_face,
        lip_speech_correlation=None if corr is None else float(corr),
        identity_spread=identity.spread,
        embedding=(
            [float(v) for v in identity.embedding] if identity.embedding is not None and face_ok else None
        ),
        reference_jpegs=reference_jpegs(frames, track, identity) if face_ok else [],
        voice_wav=voice_sample(recording.audio, recording.sample_rate),
    )


def verify_recording(path: str, digits: str, moves: list[str]) -> LivenessReport:
    """The liveness check of the recording at ``path`` against a challenge's ``digits`` and
    ``moves``. Raises ``RecordingError`` for a corrupt file (``corrupt``) or one over the
    time limit (``too_long``); a recording that is too short or lacks a track comes back as
    a failed report."""
    try:
        recording = decode_recording(path)
    except RecordingError as err:
        if err.code in (TOO_SHORT, NO_AUDIO, NO_VIDEO):
            return _failed_before_analysis(err, digits, moves)
        raise
    return analyse(recording, digits, moves)


def face_count_in_video(path: str, *, fps: float = 3.0) -> int:
    """The most faces seen in one frame of the video at ``path`` (sampled at ``fps``, the
    detector at twice the resolution for small faces): 0 means no human face, for a
    character that needs no liveness check. Raises ``RecordingError`` like
    ``decode_recording``."""
    recording = decode_recording(path, target_fps=fps, require_audio=False, min_duration_s=0.0)
    most = 0
    for rgb in recording.frames:
        most = max(most, sum(1 for b in faces.detect_faces(rgb, upsample=1) if b.score >= FACE_SCORE))
    return most
