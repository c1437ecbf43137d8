"""Cancelling a job, queued or running.

The caller (the api) records the outcome itself: the job document becomes
``failed`` with error code ``cancelled`` (only from ``queued`` or
``in_progress``, so a finished job stays finished), its status event goes
out, and a job still waiting in its lane is taken out of it. For a running
job a flag ``{ns}:video:{id}:cancel`` is set; the worker running it checks
that flag (and the job document) after every denoising step, stops the
pipeline there, writes no media, acknowledges the entry and moves on. The
flag expires a day later (``CANCEL_TTL_S``).
"""

from __future__ import annotations

from core.messages import JobEvent
from core.stores import Stores
from gen import events, jobs, queue

CANCEL_TTL_S = 24 * 3600


def cancel_key(stores: Stores, video_id: str) -> str:
    return stores.key("video", video_id, "cancel")


async def flag_cancelled(stores: Stores, video_id: str) -> None:
    await stores.redis.set(cancel_key(stores, video_id), b"1", ex=CANCEL_TTL_S)


async def is_cancelled(stores: Stores, video_id: str) -> bool:
    """Whether ``video_id`` was cancelled (the worker asks after every denoising step)."""
    return bool(await stores.redis.exists(cancel_key(stores, video_id)))


async def cancel_job(stores: Stores, video_id: str, reason: str = "cancelled") -> bool:
    """Cancel ``video_id``; False when there is no such job or it had already finished."""
    message = "cancelled by its owner" if reason == "cancelled" else reason
    job = await jobs.fail(stores, video_id, "cancelled", message)
    if job is None:
        return False
    await flag_cancelled(stores, video_id)
    await queue.withdraw(stores, video_id, job.owner_id)
    await events.publish(
        stores,
        JobEvent(type="status", video_id=video_id, status="failed", progress=job.progress, error={"code": "cancelled", "message": message}),
    )
    return True
