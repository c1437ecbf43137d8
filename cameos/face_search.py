"""Faces in a picture against the verified cameos: the I/O around
``policy.face_likeness``.

``describe_faces`` (blocking: run it in a thread) finds the faces in an RGB
picture with dlib's HOG detector and gives each a 128-d descriptor, the same
models as the liveness check (``cameos.liveness.faces``). The picture is first
scaled so that its long side is between ``MIN_SIDE`` and ``MAX_SIDE``: a
64×64 video frame is enlarged (at its own size no face in it reaches the
detector's 80 px window), a 4K upload is shrunk (the detector's cost grows
with the pixels). Faces smaller than about a seventh of the scaled long side
are not found. dlib's descriptor network is not safe to share between
threads, so one lock serialises the work of a process.

``candidates`` measures every face against every verified cameo's embedding
and keeps those within reach; ``usable_uses`` says which of them a user may
use, and on what basis: their own, and those ``policy.likeness`` allows
(permission level, approved grant, no block, and the cameo's restrictions
when a prompt is given; a paused or deleted cameo is nobody else's to use)."""

from __future__ import annotations

import threading

import numpy as np

from accounts import users
from cameos import store
from cameos.resolve import ResolvedCameo, cameo_facts, mention_of, relationship_facts, resolved_cameo
from core.stores import Stores
from policy.face_likeness import MATCH_DISTANCE, Candidate
from policy.likeness import may_use_cameo, may_use_in_prompt

MIN_SIDE = 480
MAX_SIDE = 1024
MAX_ENLARGE = 8.0
# faces further than this from every cameo are not kept as candidates (well past the match threshold)
REACH = MATCH_DISTANCE + 0.15

_lock = threading.Lock()


def _scaled(rgb: np.ndarray) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    long_side = max(h, w)
    if long_side < MIN_SIDE:
        scale = min(MIN_SIDE / long_side, MAX_ENLARGE)
    elif long_side > MAX_SIDE:
        scale = MAX_SIDE / long_side
    else:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def describe_faces(rgb: np.ndarray) -> list[np.ndarray]:
    """The 128-d descriptor of every face dlib finds in an RGB uint8 picture, largest face first.
    Blocking (about 50-150 ms for the detector and 90 ms per face on one core)."""
    from cameos.liveness import faces

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected an RGB uint8 picture of shape (h, w, 3)")
    picture = _scaled(rgb)
    with _lock:
        return [faces.descriptor(picture, box) for box in faces.detect_faces(picture)]


def candidates_for(descriptors: list[np.ndarray], known: list[tuple[str, str, list[float]]]) -> list[list[Candidate]]:
    """For each descriptor, the cameos of ``known`` (cameo id, owner id, embedding) within ``REACH``."""
    if not known:
        return [[] for _ in descriptors]
    ids = [row[0] for row in known]
    matrix = np.asarray([row[2] for row in known], dtype=np.float64)
    out = []
    for d in descriptors:
        distances = np.linalg.norm(matrix - np.asarray(d, dtype=np.float64), axis=1)
        near = np.flatnonzero(distances < REACH)
        out.append([Candidate(cameo_id=ids[i], distance=float(distances[i])) for i in near])
    return out


async def candidates(stores: Stores, descriptors: list[np.ndarray]) -> list[list[Candidate]]:
    """Each face's candidate cameos, among every verified face (every account's)."""
    if not descriptors:
        return []
    return candidates_for(descriptors, await store.face_embeddings(stores, exclude_owner=""))


async def usable_uses(
    stores: Stores, user_id: str, cameo_ids: list[str], prompt: str | None = None
) -> dict[str, ResolvedCameo]:
    """Each of ``cameo_ids`` that ``user_id`` may use now, as its use (owner,
    mention, basis): their own (basis ``self``, even while paused: one's own
    face), and those ``policy.likeness`` allows; with ``prompt``, also within
    the cameo's restrictions."""
    found = await store.get_cameos(stores, cameo_ids)
    owners = await users.get_users(stores, [c.owner_id for c in found.values()])
    out: dict[str, ResolvedCameo] = {}
    for cameo_id, cameo in found.items():
        owner = owners.get(cameo.owner_id)
        if owner is None:  # its account is being deleted
            continue
        mention = mention_of(cameo, owner.handle)
        if cameo.owner_id == user_id:
            out[cameo_id] = resolved_cameo(cameo, mention, "self")
            continue
        facts, rel = cameo_facts(cameo, mention), await relationship_facts(stores, user_id, cameo)
        decision = may_use_cameo(user_id, facts, rel) if prompt is None else may_use_in_prompt(user_id, facts, rel, prompt)
        if decision.allowed:
            out[cameo_id] = resolved_cameo(cameo, mention, decision.basis or "everyone")
    return out
