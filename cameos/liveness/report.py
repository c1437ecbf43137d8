"""What a liveness check found: the contract between the pipeline and its callers."""

from __future__ import annotations

import msgspec

# Failure codes, one per check; ``LivenessReport.failures`` lists those that failed.
DIGITS = "digits"  # the challenge's digits were not heard
MOVES = "moves"  # the head turns were not seen, or not in the challenge's order
FACE_COUNT = "face_count"  # not exactly one face throughout (none, two, a cut)
LIPS = "lips"  # the lips did not move with the speech (a still photo)
IDENTITY = "identity"  # the face changed identity during the clip
DURATION = "duration"  # too short or too long a recording
NO_AUDIO = "no_audio"  # the recording has no sound track
NO_VIDEO = "no_video"  # the recording has no video track


class Move(msgspec.Struct, frozen=True, kw_only=True):
    """One head turn seen in the pose track."""

    direction: str  # "left" | "right", from the person's own point of view
    peak_yaw: float  # degrees from the frontal baseline at the turn's peak
    start_s: float
    end_s: float


class LivenessReport(msgspec.Struct, kw_only=True):
    ok: bool
    failures: list[str]
    duration_s: float
    frames_analysed: int
    # speech
    digits_expected: str
    digits_heard: str | None  # best free-grammar hypothesis, for the person's information
    digits_verified: bool
    speech_score: float | None  # verification margin; see cameos/liveness/speech.py
    # head pose
    moves_expected: list[str]
    moves_seen: list[Move]
    yaw_track: list[float | None]  # degrees per analysed frame, None where no face
    # faces
    faces_min: int  # fewest faces in one analysed frame
    faces_max: int  # most faces in one analysed frame
    frames_without_face: int
    lip_speech_correlation: float | None
    identity_spread: float | None  # largest distance between two sampled frames' descriptors
    # the likeness (filled when a face was tracked)
    embedding: list[float] | None = None  # 128-d dlib descriptor, mean of the frontal frames
    reference_jpegs: list[bytes] = []  # 3-5 best frontal frames
    voice_wav: bytes | None = None  # the speech segment, 16 kHz mono WAV

    def details(self) -> dict:
        """The wire ``details`` of a ``liveness_failed`` error: what was checked and seen,
        without the likeness itself."""
        return {
            "failures": self.failures,
            "duration_s": round(self.duration_s, 2),
            "digits_expected": self.digits_expected,
            "digits_heard": self.digits_heard,
            "digits_verified": self.digits_verified,
            "moves_expected": self.moves_expected,
            "moves_seen": [m.direction for m in self.moves_seen],
            "faces_min": self.faces_min,
            "faces_max": self.faces_max,
            "frames_without_face": self.frames_without_face,
            "frames_analysed": self.frames_analysed,
            "lip_speech_correlation": (
                None if self.lip_speech_correlation is None else round(self.lip_speech_correlation, 3)
            ),
        }
