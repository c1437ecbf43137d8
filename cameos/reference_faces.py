"""An uploaded reference picture (the Videos API's ``input_reference``, the
last frame of an uploaded video to extend) before anything is stored:

1. faces: every face dlib finds must be a verified cameo the uploader may
   use (their own, or one ``policy.likeness`` lets them use): a photorealistic
   face that is nobody's cameo, or someone else's they may not use, is
   refused (``policy.face_likeness.judge_reference_faces``);
2. nudity: NudeNet's detections judged by ``policy.images.judge_nudity``,
   strictly when the picture holds a cameo's face (a likeness raises the
   stakes) or when the caller asks (an under-18 account).

The detectors are blocking; they run together in one thread. A refusal is
the caller's to answer (``cameos.upload_refusal.moderation_blocked``, 422).
A picture that passes names the cameos whose faces it shows: the video made
from it features them as a mention would (an appearance for each owner to
see and remove)."""

from __future__ import annotations

import asyncio
import io

import msgspec
import numpy as np

from cameos import face_search
from core import nudity
from core.stores import Stores
from policy.decision import Decision
from policy.face_likeness import judge_reference_faces, matched_cameos
from policy.images import judge_nudity


def _rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def _detect(png: bytes) -> tuple[list[np.ndarray], list[tuple[str, float]]]:
    rgb = _rgb(png)
    found = [(d.label, d.score) for d in nudity.detect(rgb)]
    return face_search.describe_faces(rgb), found


class ReferenceVerdict(msgspec.Struct, frozen=True, kw_only=True):
    decision: Decision
    cameo_ids: tuple[str, ...] = ()  # other people's cameos whose faces the picture shows (when allowed)


async def judge_reference(stores: Stores, user_id: str, png: bytes, *, strict: bool = False) -> ReferenceVerdict:
    """May ``user_id`` use this picture (PNG bytes, as ``gen.reference`` normalised it), and which
    of other people's cameos does it show? (One's own face is one's own to use, even while its cameo
    is paused: it is not named.)"""
    descriptors, detections = await asyncio.to_thread(_detect, png)
    faces = await face_search.candidates(stores, descriptors)
    matched = matched_cameos(faces)
    usable = await face_search.usable_uses(stores, user_id, matched) if matched else {}
    likeness = judge_reference_faces(faces, usable)
    if not likeness.allowed:
        return ReferenceVerdict(decision=Decision.refuse(likeness.category or "real_person", likeness.reason or ""))
    others = tuple(c for c in matched if usable[c].owner_id != user_id)
    return ReferenceVerdict(decision=judge_nudity(detections, strict=strict or bool(descriptors)), cameo_ids=others)

