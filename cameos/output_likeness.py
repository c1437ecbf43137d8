"""The likeness check on a finished video: does a generated face belong to a
verified cameo its creator may not use? This is what stops a deepfake of a
registered person even when the prompt never named them.

The worker samples frames of the finished clip and calls
``likeness_refusal``. Every face in them is described (dlib, in a thread:
``cameos.face_search``), compared with every verified cameo's embedding, and
``policy.face_likeness.judge_output_faces`` decides. The cameos the creator
may use are their own and those ``policy.likeness`` allows them now;
``allowed_cameo_ids`` (the job's cameos) are checked again like any other,
not trusted: a grant revoked while the video was made refuses it, and ids of
someone else's cameo do not open it.

The refusal says what happened, never whose cameo it was; the matched cameo
is written to the process's log for moderators."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from cameos import face_search
from core.stores import Stores
from policy.decision import Decision
from policy.face_likeness import judge_output_faces, matched_cameos, owner_of_face

log = logging.getLogger("fabula.cameos.likeness")


def _describe_frames(frames: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    out = []
    for i, frame in enumerate(frames):
        out.extend((i, d) for d in face_search.describe_faces(frame))
    return out


async def likeness_refusal(
    stores: Stores, owner_id: str, frames: list[np.ndarray], allowed_cameo_ids: list[str]
) -> Decision | None:
    """A refusal (category ``real_person``) when a face in ``frames`` (RGB uint8) is
    a verified cameo ``owner_id`` may not use; None when every face may be there."""
    if not frames:
        return None
    found = await asyncio.to_thread(_describe_frames, frames)
    if not found:
        return None
    faces = await face_search.candidates(stores, [d for _, d in found])
    matched = matched_cameos(faces)
    if not matched:
        return None
    usable = await face_search.usable_cameos(stores, owner_id, matched)
    decision = judge_output_faces(faces, usable)
    if decision.allowed:
        return None
    face = decision.face if decision.face is not None else 0
    owner = owner_of_face(faces[face])
    log.warning(
        "output refused: likeness of a cameo the creator may not use",
        extra={
            "owner_id": owner_id,
            "frame": found[face][0],
            "cameo_id": owner.cameo_id if owner else None,
            "distance": round(owner.distance, 4) if owner else None,
            "job_cameo": bool(owner and owner.cameo_id in allowed_cameo_ids),  # consent withdrawn while it was made
        },
    )
    return Decision.refuse(decision.category or "real_person", decision.reason or "")
