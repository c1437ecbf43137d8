"""Faces seen in a picture against the verified cameos: which of them may be
there. Pure: the caller detects the faces, measures each one's descriptor
distance to the cameos' embeddings (``cameos.face_search``) and works out
which cameos the person may use (their own, and those ``policy.likeness``
lets them use); this module decides.

Each face is given to its nearest cameo within ``MATCH_DISTANCE`` (dlib's
same-person threshold), or to nobody. Two strengths:

- a finished video (``judge_output_faces``): a face given to a cameo the
  creator may not use is refused; a face that is nobody's cameo passes (a
  generated stranger);
- an uploaded reference picture (``judge_reference_faces``): every face must
  be given to a cameo the uploader may use; a face that is nobody's cameo is
  a real person without consent and is refused too.

Refusals are ``real_person`` and never say whose cameo a face matched.

A finished video that passes may still show other people's cameos its job
never named (a generated face that is a cameo the creator may use): the
likeness check names them as ``ShownCameo``s in its ``OutputLikeness``, so
the worker records each as an appearance its owner sees and can remove."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import msgspec

from policy.decision import Decision

# dlib's threshold: the same face after a flip, resize and JPEG measured ~0.26 here, unrelated faces ~0.77
MATCH_DISTANCE = 0.6
CATEGORY = "real_person"

OUTPUT_SENTENCE = (
    "This video shows the likeness of a person with a verified cameo that you may not use, so it cannot be kept."
)
REFERENCE_SENTENCE = (
    "This picture shows a real person's face that is not a cameo you may use. Use a picture of your own verified "
    "cameo or of one you were granted, or a picture without a real face."
)


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A verified cameo near a face, and how near (descriptor distance)."""

    cameo_id: str
    distance: float


class FaceDecision(Decision, frozen=True, kw_only=True):
    face: int | None = None  # on a refusal: the index of the face that refused (in the order given)


class ShownCameo(msgspec.Struct, frozen=True, kw_only=True):
    """A cameo whose face a finished video shows though its job did not name it,
    and what allows the creator to use it (as ``gen.provenance.manifest.CameoConsent``
    records it, with the owner to tell)."""

    cameo_id: str
    owner_id: str
    mention: str
    basis: str  # everyone | mutuals | approved
    grant_id: str | None = None


class OutputLikeness(msgspec.Struct, frozen=True, kw_only=True):
    """The likeness check of a finished video: a refusal, or the cameos it
    shows beyond its job's (none of them the creator's own)."""

    refusal: Decision | None = None
    shown: tuple[ShownCameo, ...] = ()


def owner_of_face(candidates: Iterable[Candidate], *, threshold: float = MATCH_DISTANCE) -> Candidate | None:
    """The nearest of ``candidates`` within ``threshold``, or None (nobody's cameo)."""
    best: Candidate | None = None
    for c in candidates:
        if c.distance < threshold and (best is None or c.distance < best.distance):
            best = c
    return best


def judge_output_faces(
    faces: Iterable[Iterable[Candidate]], usable: Collection[str], *, threshold: float = MATCH_DISTANCE
) -> FaceDecision:
    """A finished video's faces (each given as its candidate cameos): refused when
    one is nearest to a cameo not in ``usable``."""
    for i, candidates in enumerate(faces):
        owner = owner_of_face(candidates, threshold=threshold)
        if owner is not None and owner.cameo_id not in usable:
            return FaceDecision(allowed=False, category=CATEGORY, reason=OUTPUT_SENTENCE, face=i)
    return FaceDecision(allowed=True)


def judge_reference_faces(
    faces: Iterable[Iterable[Candidate]], usable: Collection[str], *, threshold: float = MATCH_DISTANCE
) -> FaceDecision:
    """An uploaded picture's faces: each must be nearest to a cameo in ``usable``."""
    for i, candidates in enumerate(faces):
        owner = owner_of_face(candidates, threshold=threshold)
        if owner is None or owner.cameo_id not in usable:
            return FaceDecision(allowed=False, category=CATEGORY, reason=REFERENCE_SENTENCE, face=i)
    return FaceDecision(allowed=True)


def matched_cameos(faces: Iterable[Iterable[Candidate]], *, threshold: float = MATCH_DISTANCE) -> list[str]:
    """The cameos the faces were given to, each once, in order (what the caller needs to look up)."""
    out: list[str] = []
    for candidates in faces:
        owner = owner_of_face(candidates, threshold=threshold)
        if owner is not None and owner.cameo_id not in out:
            out.append(owner.cameo_id)
    return out
