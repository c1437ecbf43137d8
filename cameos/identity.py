"""One person, one cameo: a new face is compared with every other account's
verified cameos before it is kept.

Faces compare by the Euclidean distance of their 128-d dlib descriptors;
below ``MATCH_DISTANCE`` (0.6, dlib's own threshold: the same face after a
flip, resize and JPEG measured ~0.26 here, unrelated faces ~0.77) they are
taken as one person. A match refuses the new cameo with ``likeness_taken``
and writes an entry to the ``cameo_reviews`` collection for a person to look
at: who tried, whose cameo it matched, the distance, when. The entry holds no
face data.

Checks and inserts run under one lock (``claim``), so two accounts
registering the same face at the same moment cannot both pass. The
comparison reads every verified embedding (128 floats each); a few hundred
thousand cameos would want an ANN index instead (e.g. Atlas Vector Search).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import msgspec
import numpy as np
from pymongo import ASCENDING
from redis.exceptions import LockError

from cameos import store
from cameos.errors import likeness_taken
from core.clock import utcnow
from core.errors import Unavailable
from core.stores import Stores

MATCH_DISTANCE = 0.6
LOCK_TIMEOUT_S = 60.0  # longest a check-and-insert may hold the lock
LOCK_WAIT_S = 30.0


class Match(msgspec.Struct, frozen=True, kw_only=True):
    cameo_id: str
    owner_id: str
    distance: float


def _reviews(stores: Stores):
    return stores.db["cameo_reviews"]


async def ensure_indexes(stores: Stores) -> None:
    await _reviews(stores).create_index([("matched_cameo_id", ASCENDING)], name="matched_cameo")


def nearest(embedding: list[float], known: list[tuple[str, str, list[float]]]) -> Match | None:
    """The closest of ``known`` (cameo id, owner id, embedding) to ``embedding``, or None."""
    if not known:
        return None
    matrix = np.asarray([row[2] for row in known], dtype=np.float64)
    distances = np.linalg.norm(matrix - np.asarray(embedding, dtype=np.float64), axis=1)
    best = int(np.argmin(distances))
    cameo_id, owner_id, _ = known[best]
    return Match(cameo_id=cameo_id, owner_id=owner_id, distance=float(distances[best]))


async def find_same_person(stores: Stores, embedding: list[float], *, user_id: str) -> Match | None:
    """Another account's verified cameo of the same person, or None."""
    match = nearest(embedding, await store.face_embeddings(stores, exclude_owner=user_id))
    return match if match is not None and match.distance < MATCH_DISTANCE else None


async def log_for_review(stores: Stores, *, user_id: str, match: Match, context: str) -> None:
    await _reviews(stores).insert_one(
        {
            "kind": "likeness_taken",
            "context": context,  # "cameo" or "character"
            "user_id": user_id,
            "matched_cameo_id": match.cameo_id,
            "matched_owner_id": match.owner_id,
            "distance": round(match.distance, 4),
            "created_at": utcnow(),
        }
    )


async def ensure_unclaimed(stores: Stores, embedding: list[float], *, user_id: str, context: str) -> None:
    """Raise ``likeness_taken`` (and log it for review) when the face is another account's."""
    match = await find_same_person(stores, embedding, user_id=user_id)
    if match is not None:
        await log_for_review(stores, user_id=user_id, match=match, context=context)
        raise likeness_taken()


async def reviews_for(stores: Stores, cameo_id: str) -> list[dict]:
    """The review entries about attempts on ``cameo_id`` (for moderators and tests)."""
    return await _reviews(stores).find({"matched_cameo_id": cameo_id}, {"_id": 0}).to_list()


async def forget_cameo(stores: Stores, cameo_id: str) -> None:
    """Drop the review entries about a deleted cameo."""
    await _reviews(stores).delete_many({"matched_cameo_id": cameo_id})


@contextlib.asynccontextmanager
async def claim(stores: Stores) -> AsyncIterator[None]:
    """Hold the identity lock while checking a face and inserting its cameo."""
    lock = stores.redis.lock(
        stores.key("cameo", "identity-lock"), timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S, thread_local=False
    )
    if not await lock.acquire():
        raise Unavailable("cameo verification is busy; try again in a moment", code="cameos_busy")
    try:
        yield
    finally:
        with contextlib.suppress(LockError):
            await lock.release()
