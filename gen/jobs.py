"""Video jobs: the ``videos`` collection. One document per requested video,
from ``queued`` through ``in_progress`` to ``completed`` or ``failed``. Other
packages see ``Job`` Structs, never the documents."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Literal

import msgspec
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from core.clock import utcnow
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index, is_nx27017
from core.stores import Stores
from gen.provenance.manifest import CameoConsent

Status = Literal["queued", "in_progress", "completed", "failed"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed"})


class JobError(msgspec.Struct):
    code: str
    message: str


class Media(msgspec.Struct, kw_only=True):
    bytes: int
    frames: int
    fps: int
    width: int
    height: int


class Job(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    prompt: str
    model: str
    width: int
    height: int
    seconds: int
    steps: int | None = None  # None: the preset's default
    seed: int | None = None
    status: Status = "queued"
    progress: int = 0
    attempts: int = 0
    worker: str | None = None
    error: JobError | None = None
    media: Media | None = None
    remixed_from_video_id: str | None = None
    # why the last attempt did not finish (kept while the job is retried)
    last_error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # image-to-video: the first frame is conditioned on the job's ``reference``
    # media variant (gen.reference), an upload or the last frame of ``extend_of``
    reference: bool = False
    extend_of: str | None = None
    # cameos: the ids of the cameos the video features (their consent is
    # checked again at pickup), and the prompt the model is given, which adds
    # each cameo's standing instructions to the one the person wrote
    cameos: list[str] = []
    render_prompt: str | None = None
    # the size the file is delivered at when it is not the generated one (one
    # of OpenAI's sizes, made at the preset's own resolution), and the model
    # name asked for when it is not the preset's (e.g. "sora-2")
    output_width: int | None = None
    output_height: int | None = None
    model_name: str | None = None
    # provenance (gen.provenance): the creator's handle for the visible mark and
    # the manifest, and the consent behind each cameo, set when the job is made
    creator_handle: str | None = None
    cameo_consents: list[CameoConsent] = []
    # output moderation with the strict thresholds (an under-18 creator)
    strict_moderation: bool = False

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


def _collection(stores: Stores):
    return stores.db["videos"]


def _job(doc: dict | None) -> Job | None:
    if doc is None:
        return None
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return msgspec.convert(doc, Job, from_attributes=False, strict=False)


async def ensure_indexes(stores: Stores) -> None:
    await ensure_newest_by_index(stores, "videos", "owner_id", "owner_newest")
    # one owner's videos of one status, newest first (list_by_status: drafts). Ids
    # are minted at creation and sort by it; nx-27017 takes no compound index
    # holding _id (core.mongo_compat), so there it is (owner, status) alone.
    keys = [("owner_id", ASCENDING), ("status", ASCENDING)]
    if not await is_nx27017(stores):
        keys.append(("_id", DESCENDING))
    await _collection(stores).create_index(keys, name="owner_status_newest")
    # the unfinished jobs of everyone (gen.lost_jobs)
    await _collection(stores).create_index([("status", ASCENDING)], name="status")


async def create_job(
    stores: Stores,
    *,
    owner_id: str,
    prompt: str,
    model: str,
    width: int,
    height: int,
    seconds: int,
    steps: int | None,
    seed: int | None = None,
    remixed_from_video_id: str | None = None,
    reference: bool = False,
    extend_of: str | None = None,
    cameos: list[str] | None = None,
    render_prompt: str | None = None,
    output_width: int | None = None,
    output_height: int | None = None,
    model_name: str | None = None,
    creator_handle: str | None = None,
    cameo_consents: list[CameoConsent] | None = None,
    strict_moderation: bool = False,
) -> Job:
    job = Job(
        id=new_id("video"),
        owner_id=owner_id,
        prompt=prompt,
        model=model,
        width=width,
        height=height,
        seconds=seconds,
        steps=steps,
        seed=seed,
        remixed_from_video_id=remixed_from_video_id,
        created_at=utcnow(),
        reference=reference,
        extend_of=extend_of,
        cameos=list(cameos or ()),
        render_prompt=render_prompt if render_prompt != prompt else None,
        output_width=output_width,
        output_height=output_height,
        model_name=model_name,
        creator_handle=creator_handle,
        cameo_consents=list(cameo_consents or ()),
        strict_moderation=strict_moderation,
    )
    doc = msgspec.to_builtins(job, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    await _collection(stores).insert_one(doc)
    return job


async def get_job(stores: Stores, video_id: str) -> Job | None:
    return _job(await _collection(stores).find_one({"_id": video_id}))


async def delete_job(stores: Stores, video_id: str) -> bool:
    result = await _collection(stores).delete_one({"_id": video_id})
    return result.deleted_count == 1


async def fail(stores: Stores, video_id: str, code: str, message: str) -> Job | None:
    doc = await _collection(stores).find_one_and_update(
        {"_id": video_id, "status": {"$in": ["queued", "in_progress"]}},
        {"$set": {"status": "failed", "completed_at": utcnow(), "error": {"code": code, "message": message[:500]}}},
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc)


async def list_jobs(stores: Stores, owner_id: str, *, after: str | None, limit: int, newest_first: bool = True) -> list[Job]:
    query: dict = {"owner_id": owner_id}
    if after:
        query["_id"] = {"$lt": after} if newest_first else {"$gt": after}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING if newest_first else ASCENDING).limit(limit)
    return [_job(doc) async for doc in cursor]


async def list_by_status(stores: Stores, owner_id: str, status: str, *, before: str | None = None, limit: int) -> list[Job]:
    """``owner_id``'s videos of ``status``, newest first, older than the id
    ``before``, through the (owner, status, newest) index: videos of other
    statuses are never read."""
    query: dict = {"owner_id": owner_id, "status": status}
    if before is not None:
        query["_id"] = {"$lt": before}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_job(doc) async for doc in cursor]


async def list_unfinished(stores: Stores, *, after: str | None, limit: int) -> list[Job]:
    """Everyone's ``queued`` and ``in_progress`` jobs, oldest id first, after the id ``after``."""
    query: dict = {"status": {"$in": ["queued", "in_progress"]}}
    if after is not None:
        query["_id"] = {"$gt": after}
    cursor = _collection(stores).find(query).sort("_id", ASCENDING).limit(limit)
    return [_job(doc) async for doc in cursor]


def job_seed(job: Job) -> int:
    """The job's seed, or one derived from its id: every attempt of a job renders
    the same video (what makes a retry's outputs identical), and a remix can
    reuse the seed of a job that had none."""
    if job.seed is not None:
        return job.seed
    return int.from_bytes(hashlib.blake2b(job.id.encode(), digest_size=4).digest(), "big")


# --- attempts, fenced -----------------------------------------------------
#
# A worker's attempt is identified by (worker, attempts): every write it makes
# is conditional on the document still being in progress under that pair, so
# a worker that lost its job (taken over after a visibility timeout,
# cancelled, deleted) can no longer change it. That fence is what turns the
# queue's at-least-once delivery into exactly-once effects.


def _fence(video_id: str, worker: str, attempt: int) -> dict:
    return {"_id": video_id, "status": "in_progress", "worker": worker, "attempts": attempt}


async def begin_attempt(stores: Stores, video_id: str, worker: str, max_attempts: int) -> Job | None:
    """Start attempt ``attempts + 1`` for ``worker``, unless the job is gone,
    finished, or has used up its ``max_attempts`` (then None: see ``get_job``)."""
    doc = await _collection(stores).find_one_and_update(
        {"_id": video_id, "status": {"$in": ["queued", "in_progress"]}, "attempts": {"$lt": max_attempts}},
        {"$set": {"status": "in_progress", "worker": worker, "started_at": utcnow(), "progress": 0}, "$inc": {"attempts": 1}},
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc)


async def report_progress(stores: Stores, video_id: str, worker: str, attempt: int, progress: int) -> bool:
    """Record progress; False when the attempt is no longer this worker's."""
    result = await _collection(stores).update_one(_fence(video_id, worker, attempt), {"$set": {"progress": int(progress)}})
    return result.matched_count == 1


async def owns_attempt(stores: Stores, video_id: str, worker: str, attempt: int) -> bool:
    return await _collection(stores).count_documents(_fence(video_id, worker, attempt), limit=1) == 1


async def complete_attempt(stores: Stores, video_id: str, worker: str, attempt: int, media: Media) -> Job | None:
    """Mark the job completed, only from the attempt that owns it (None otherwise)."""
    doc = await _collection(stores).find_one_and_update(
        _fence(video_id, worker, attempt),
        {"$set": {"status": "completed", "progress": 100, "completed_at": utcnow(), "media": msgspec.to_builtins(media), "error": None}},
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc)


async def requeue_attempt(stores: Stores, video_id: str, worker: str, attempt: int, reason: str) -> Job | None:
    """A failed attempt that will be retried: back to ``queued`` with its reason."""
    doc = await _collection(stores).find_one_and_update(
        _fence(video_id, worker, attempt),
        {"$set": {"status": "queued", "progress": 0, "last_error": reason[:500]}},
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc)


async def release_attempt(stores: Stores, video_id: str, worker: str, attempt: int, reason: str | None = None) -> Job | None:
    """An attempt stopped for no fault of the job (its worker's shutdown, a
    media store that would not take the outputs): back to ``queued``, the
    attempt not counted, ``reason`` kept as ``last_error`` (None when the
    attempt was no longer this worker's)."""
    changes: dict = {"status": "queued", "progress": 0, "worker": None}
    if reason is not None:
        changes["last_error"] = reason[:500]
    doc = await _collection(stores).find_one_and_update(
        _fence(video_id, worker, attempt),
        {"$set": changes, "$inc": {"attempts": -1}},
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc)


async def fail_attempt(stores: Stores, video_id: str, worker: str, attempt: int, code: str, message: str) -> Job | None:
    doc = await _collection(stores).find_one_and_update(
        _fence(video_id, worker, attempt),
        {"$set": {"status": "failed", "completed_at": utcnow(), "error": {"code": code, "message": message[:500]}}},
        return_document=ReturnDocument.AFTER,
    )
    return _job(doc)


async def count_unfinished(stores: Stores, owner_id: str) -> tuple[int, int]:
    """(in progress, queued) jobs of ``owner_id``: what the quota decides on."""
    coll = _collection(stores)
    active, queued = await asyncio.gather(
        coll.count_documents({"owner_id": owner_id, "status": "in_progress"}),
        coll.count_documents({"owner_id": owner_id, "status": "queued"}),
    )
    return active, queued
