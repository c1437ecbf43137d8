"""The likeness check on a finished video: does a generated face belong to a
verified cameo its creator may not use? This is what stops a deepfake of a
registered person even when the prompt never named them.

The worker samples frames of the finished clip and calls ``check_output``.
Every face in them is described (dlib, in a thread: ``cameos.face_search``),
compared with every verified cameo's embedding, and
``policy.face_likeness.judge_output_faces`` decides. The cameos the creator
may use are their own and those ``policy.likeness`` allows them now for the
job's prompt (a cameo's restrictions count, as for a mention); the job's
cameo ids are checked again like any other, not trusted: a grant revoked
while the video was made refuses it, and ids of someone else's cameo do not
open it.

A video that passes and shows another person's cameo its job did not name
(no mention, no picture: the model drew a face that is theirs) names it in
``OutputLikeness.shown``, with what allows its use; the worker records it as
an appearance, in the manifest's consents, and tells its owner.

The refusal says what happened, never whose cameo it was; the matched cameo
is written to the process's log for moderators."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from cameos import face_search
from cameos.grants import grant_id
from core.stores import Stores
from policy.decision import Decision
from policy.face_likeness import OutputLikeness, ShownCameo, judge_output_faces, matched_cameos, owner_of_face

log = logging.getLogger("fabula.cameos.likeness")


def _describe_frames(frames: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    out = []
    for i, frame in enumerate(frames):
        out.extend((i, d) for d in face_search.describe_faces(frame))
    return out


async def check_output(
    stores: Stores, owner_id: str, prompt: str, frames: list[np.ndarray], job_cameo_ids: list[str]
) -> OutputLikeness:
    """The faces in ``frames`` (RGB uint8) of a video ``owner_id`` made from ``prompt``:
    a refusal (category ``real_person``) when one is a verified cameo they may not use,
    or may not use in this prompt (its restrictions); otherwise the other people's
    cameos the frames show that ``job_cameo_ids`` does not name."""
    if not frames:
        return OutputLikeness()
    found = await asyncio.to_thread(_describe_frames, frames)
    if not found:
        return OutputLikeness()
    faces = await face_search.candidates(stores, [d for _, d in found])
    matched = matched_cameos(faces)
    if not matched:
        return OutputLikeness()
    usable = await face_search.usable_uses(stores, owner_id, matched, prompt)
    decision = judge_output_faces(faces, usable)
    if decision.allowed:
        named = set(job_cameo_ids)
        shown = tuple(
            ShownCameo(
                cameo_id=use.cameo_id,
                owner_id=use.owner_id,
                mention=use.mention,
                basis=use.basis,
                grant_id=grant_id(use.cameo_id, owner_id) if use.basis == "approved" else None,
            )
            for use in (usable[c] for c in matched)
            if use.owner_id != owner_id and use.cameo_id not in named
        )
        return OutputLikeness(shown=shown)
    face = decision.face if decision.face is not None else 0
    owner = owner_of_face(faces[face])
    log.warning(
        "output refused: likeness of a cameo the creator may not use",
        extra={
            "owner_id": owner_id,
            "frame": found[face][0],
            "cameo_id": owner.cameo_id if owner else None,
            "distance": round(owner.distance, 4) if owner else None,
            "job_cameo": bool(owner and owner.cameo_id in job_cameo_ids),  # consent withdrawn while it was made
        },
    )
    return OutputLikeness(refusal=Decision.refuse(decision.category or "real_person", decision.reason or ""))
