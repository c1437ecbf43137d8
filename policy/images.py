"""Whether a picture may be used or shown, from what a detector found in it.

Pure: the caller runs the detector (``core.nudity.detect``) and passes its
detections, as (label, score) pairs. Two strengths:

- the default: exposed genitals, buttocks, anus or female breasts refuse at
  ``EXPLICIT_SCORE``;
- ``strict`` (under-18 accounts, pictures tied to a likeness): the same parts
  at the lower ``STRICT_SCORE``, and covered intimate parts ("racy") too.

Faces, feet, armpits and bellies never refuse by themselves."""

from __future__ import annotations

from collections.abc import Iterable

from policy.decision import Decision

EXPLICIT = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
RACY = frozenset(
    {
        "FEMALE_GENITALIA_COVERED",
        "FEMALE_BREAST_COVERED",
        "BUTTOCKS_COVERED",
        "ANUS_COVERED",
    }
)
EXPLICIT_SCORE = 0.45
STRICT_SCORE = 0.30
RACY_SCORE = 0.55

_SENTENCE = "This picture shows nudity or sexual content, which Fabula does not allow."
_RACY_SENTENCE = "This picture is too revealing for this account or likeness."


def judge_nudity(detections: Iterable[tuple[str, float]], *, strict: bool = False) -> Decision:
    """Refuse a picture whose detections show nudity (``category="sexual"``)."""
    explicit_at = STRICT_SCORE if strict else EXPLICIT_SCORE
    for label, score in detections:
        if label in EXPLICIT and score >= explicit_at:
            return Decision.refuse("sexual", _SENTENCE)
        if strict and label in RACY and score >= RACY_SCORE:
            return Decision.refuse("sexual", _RACY_SENTENCE)
    return Decision.allow()
