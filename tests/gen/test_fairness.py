"""Fairness with one real worker: a burst from one user does not starve
another user's single job, and the priority lane neither waits behind long
jobs nor starves them. Order is read from the job documents (started_at,
completed_at), never from timing.

The worker is kept busy with a long job of a third user while the burst and
the single job are queued, so every job of the test waits in its lane and
the order they start in is the scheduler's alone (an idle worker takes the
burst's first job at once, and under load its start could be stamped after
the single job was queued, as if it had overtaken it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.stores import open_stores
from gen import heartbeat, jobs, queue
from gen.cancel import cancel_job
from tests.procs import spawn
from tests.gen.test_queue import new_job, owner_ids, poll, private_settings

SHORT = {"seconds": 1, "steps": 1}  # 64x64 x 1 s: the priority lane here
LONG = {"seconds": 2, "steps": 1}  # 64x64 x 2 s: over the threshold, the standard lane
BLOCKER = {"seconds": 4, "steps": 100, "size": (128, 128)}  # keeps the worker busy while a test queues its jobs
BURST = 2


@pytest.fixture(scope="module")
def fsettings(settings):
    return private_settings(settings, job_priority_max_cost=64 * 64, job_priority_burst=BURST, worker_heartbeat_s=0.5)


@pytest.fixture(scope="module")
def one_worker(fsettings, tmp_root):
    proc = spawn(["worker", "--name", "fair-w1"], fsettings, tmp_root / "logs" / "worker-fair-w1.log", FABULA_GEN_THREADS="1")
    yield proc
    proc.stop()


@pytest.fixture
async def fstores(fsettings, one_worker):
    s = open_stores(fsettings)

    async def ready():
        return any(w.state == "idle" for w in await heartbeat.list_workers(s))

    await poll(ready, timeout=90, what="the worker to be ready")
    yield s
    await s.close()


async def burst_then_one(stores, burst: int, burst_shape: dict, one_shape: dict) -> tuple[list[str], jobs.Job]:
    """While the worker runs user C's long job, user A enqueues ``burst`` jobs,
    then user B one; returns A's ids and B's job once it completed."""
    who = owner_ids("A", "B", "C")
    blocker = await new_job(stores, who["C"], **BLOCKER)
    await queue.enqueue(stores, blocker)

    async def blocker_running():
        return (await jobs.get_job(stores, blocker.id)).status == "in_progress"

    await poll(blocker_running, timeout=60, what="the worker to start the long job")
    a_ids = []
    for _ in range(burst):
        job = await new_job(stores, who["A"], **burst_shape)
        await queue.enqueue(stores, job)
        a_ids.append(job.id)
    b = await new_job(stores, who["B"], **one_shape)
    await queue.enqueue(stores, b)

    async def b_done():
        job = await jobs.get_job(stores, b.id)
        assert job.status != "failed", job
        return job if job.status == "completed" else None

    b_job = await poll(b_done, timeout=180, what="B's job to complete")
    blocker_done = await jobs.get_job(stores, blocker.id)
    assert blocker_done.status == "completed", blocker_done
    # the premise: every job of the test was queued before the worker was free to take one
    assert utc(blocker_done.completed_at) > utc(b_job.created_at), "the long job ended before the test's jobs were queued"
    return a_ids, b_job


def utc(dt: datetime | None) -> datetime | None:
    # nx-27017 hands back datetimes set by find_one_and_update as naive UTC
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


async def a_jobs_started_while_b_waited(stores, a_ids: list[str], b: jobs.Job) -> tuple[int, int]:
    """(A's jobs started after B was enqueued and before B started, A's jobs not started when B completed)."""
    starts = [utc((await jobs.get_job(stores, i)).started_at) for i in a_ids]
    b_created, b_started, b_completed = utc(b.created_at), utc(b.started_at), utc(b.completed_at)
    overtook = sum(1 for t in starts if t is not None and b_created <= t <= b_started)
    behind = sum(1 for t in starts if t is None or t > b_completed)
    return overtook, behind


async def cancel_all(stores, ids: list[str]) -> None:
    for video_id in ids:
        await cancel_job(stores, video_id)
    assert (await queue.depth(stores)).queued == 0


async def test_a_burst_does_not_starve_another_users_single_job(fstores):
    a_ids, b = await burst_then_one(fstores, 30, SHORT, SHORT)
    overtook, behind = await a_jobs_started_while_b_waited(fstores, a_ids, b)
    assert overtook <= 1, f"{overtook} of A's jobs started while B's waited"
    assert behind >= 20, "B went before most of the burst queued ahead of it"
    await cancel_all(fstores, a_ids)


async def test_a_short_job_does_not_wait_behind_long_ones(fstores):
    a_ids, b = await burst_then_one(fstores, 8, LONG, SHORT)
    assert b.seconds == 1
    overtook, behind = await a_jobs_started_while_b_waited(fstores, a_ids, b)
    assert overtook <= 1 and behind >= 4
    await cancel_all(fstores, a_ids)


async def test_short_jobs_do_not_starve_a_long_one(fstores):
    a_ids, b = await burst_then_one(fstores, 12, SHORT, LONG)
    overtook, behind = await a_jobs_started_while_b_waited(fstores, a_ids, b)
    # the priority lane may go first, but only BURST times in a row
    assert overtook <= BURST and behind >= 6
    await cancel_all(fstores, a_ids)
