"""Finding the jobs the queue lost, and queueing them again.

Mongo's job documents are the record of every job; Redis only holds where
each one waits (a lane, or the stream). When Redis loses writes (a Valkey
killed while its append-only file was behind, or restarted from an older
file), or a create's document reached Mongo though its queueing never
happened, a job can be ``queued`` or ``in_progress`` in Mongo with no trace
in Redis. Nothing would ever take it: no lane holds it, and no pending entry
times out.

``sweep`` reads the unfinished jobs in pages and asks Redis about those old
enough to have settled (``older_than_s``: a create writes its document a
moment before it queues the job):

- a ``queued`` job with no trace goes to the end of its owner's lane;
- an ``in_progress`` job with no trace has lost its worker's claim: its
  attempt is released (fenced on the worker and the attempt, uncounted, as
  a stopping worker's is) and the job goes to the end of its owner's lane.
  A worker still running it finds its claim gone and its writes fenced out.

The check and the push happen in one Redis script (``queue.requeue_missing``),
so a job that is in a lane or in the stream is never queued twice. The worker
runs the sweep (``Worker``), one worker of the installation per period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import as_utc, utcnow
from core.stores import Stores
from gen import events, jobs, queue
from gen.events import JobEvent

log = logging.getLogger("fabula.gen.lost_jobs")

PAGE = 500
LOST_REASON = "the queue lost the job's entry (Redis lost writes); queued again"


@dataclass
class Swept:
    looked_at: int = 0
    requeued: list[str] = field(default_factory=list)  # queued jobs put back in their lane
    released: list[str] = field(default_factory=list)  # running jobs whose claim was lost, queued again

    @property
    def recovered(self) -> int:
        return len(self.requeued) + len(self.released)


def _settled(job: jobs.Job, cutoff: datetime) -> bool:
    if job.status == "queued":
        return as_utc(job.created_at) < cutoff
    return job.started_at is not None and as_utc(job.started_at) < cutoff


async def sweep(stores: Stores, *, older_than_s: float, page: int = PAGE) -> Swept:
    """Queue again every unfinished job that Redis has no trace of (see the module)."""
    swept = Swept()
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    after: str | None = None
    while True:
        found = await jobs.list_unfinished(stores, after=after, limit=page)
        if not found:
            break
        after = found[-1].id
        settled = [job for job in found if _settled(job, cutoff)]
        swept.looked_at += len(settled)
        queued = [job for job in settled if job.status == "queued"]
        swept.requeued += await queue.requeue_missing(stores, queued)
        running = {job.id: job for job in settled if job.status == "in_progress"}
        for vid in await queue.missing(stores, list(running.values())):
            if await _release(stores, running[vid]):
                swept.released.append(vid)
        if len(found) < page:
            break
    for vid in swept.requeued:
        log.warning("a queued job Redis had lost is queued again", extra={"video_id": vid})
    return swept


async def _release(stores: Stores, job: jobs.Job) -> bool:
    """Release ``job``'s attempt (fenced: only while it is still that worker's
    and that attempt) and queue it again; False when it moved on meanwhile."""
    if job.worker is None:
        return False
    released = await jobs.release_attempt(stores, job.id, job.worker, job.attempts, LOST_REASON)
    if released is None:
        return False
    await queue.requeue_missing(stores, [released])
    log.warning(
        "a running job whose queue entry Redis had lost is queued again",
        extra={"video_id": job.id, "worker": job.worker, "attempt": job.attempts},
    )
    await events.publish(stores, JobEvent(type="status", video_id=job.id, status="queued", progress=0))
    return True
