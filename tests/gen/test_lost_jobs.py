"""Jobs the queue lost: unfinished in Mongo, with no trace in Redis.

CI once lost a video this way: Valkey was killed (-9) just after it had
answered a create, while its append-only file was behind (a slow background
fsync postpones the file's write, and the reply goes out meanwhile). After
the restart the job document said ``queued`` and no lane held the job, so no
worker ever took it.

A Redis that lost a write is the state these tests set up: a job document
written with no enqueue (the push that never reached the file), or a running
job whose stream entry is gone. The sweep (``gen.lost_jobs``) must queue each
such job again exactly once, leave alone every job that Redis still holds,
and fence the old attempt of a running job out. The last test runs a real
worker process with a short sweep period and a lost job: it must complete."""

from __future__ import annotations

import asyncio

import pytest

from core.embedded import start_mongo
from core.stores import open_stores
from gen import events, heartbeat, jobs, lost_jobs, queue
from tests.gen.test_queue import new_job, owner_ids, poll, private_settings
from tests.procs import spawn


@pytest.fixture(scope="module")
def lsettings(settings, tmp_path_factory):
    """A Mongo server of this module's own. The sweep reads every job of its
    database, and nx-27017 keeps one set of collections for every database
    name: on the session's server it would see (and queue) every other
    test's jobs."""
    mongo = start_mongo(tmp_path_factory.mktemp("lost-jobs-mongo"))
    try:
        yield private_settings(settings, mongo_url=f"mongodb://127.0.0.1:{mongo.port}/?directConnection=true")
    finally:
        mongo.stop()


@pytest.fixture
async def lstores(lsettings):
    """Stores in a namespace of the test's own, on an empty ``videos`` collection."""
    s = open_stores(private_settings(lsettings))
    await s.db["videos"].delete_many({})
    await jobs.ensure_indexes(s)
    await queue.ensure_group(s)
    yield s
    await s.close()


async def test_a_queued_job_redis_lost_is_queued_again_once(lstores):
    owner = owner_ids("a")["a"]
    job = await new_job(lstores, owner)  # its document is written; the push to its lane was lost
    assert (await queue.depth(lstores)).queued == 0

    swept = await lost_jobs.sweep(lstores, older_than_s=0)
    assert swept.requeued == [job.id] and swept.released == [] and swept.recovered == 1
    assert (await queue.depth(lstores)).queued == 1

    again = await lost_jobs.sweep(lstores, older_than_s=0)
    assert again.requeued == [] and again.looked_at == 1
    assert (await queue.depth(lstores)).queued == 1, "a job already in its lane was queued a second time"

    entry = await queue.take(lstores, "w1")
    assert entry is not None and entry.video_id == job.id and entry.owner == owner
    assert await queue.take(lstores, "w1") is None


async def test_jobs_redis_still_holds_are_left_alone(lstores):
    who = owner_ids("a", "b")
    waiting = await new_job(lstores, who["a"])
    await queue.enqueue(lstores, waiting)
    running = await new_job(lstores, who["b"])
    await queue.enqueue(lstores, running)
    # the worker's take follows the fairness ring: take until b's job is in flight
    taken = [await queue.take(lstores, "w1") for _ in range(2)]
    entry = next(e for e in taken if e.video_id == running.id)
    back = next(e for e in taken if e.video_id == waiting.id)
    await queue.retry(lstores, back)  # a's job back in its lane
    assert await jobs.begin_attempt(lstores, running.id, "w1", 3) is not None

    swept = await lost_jobs.sweep(lstores, older_than_s=0)
    assert swept.looked_at == 2 and swept.recovered == 0
    depth = await queue.depth(lstores)
    assert depth.queued == 1 and depth.in_flight == 1
    assert await queue.touch(lstores, "w1", entry.entry_id), "the running job's claim was disturbed"
    assert (await jobs.get_job(lstores, running.id)).status == "in_progress"


async def test_a_job_younger_than_the_cutoff_is_left_alone(lstores):
    job = await new_job(lstores, owner_ids("a")["a"])  # its create may still be about to queue it
    swept = await lost_jobs.sweep(lstores, older_than_s=60)
    assert swept.looked_at == 0 and swept.recovered == 0
    assert (await queue.depth(lstores)).queued == 0
    assert (await lost_jobs.sweep(lstores, older_than_s=0)).requeued == [job.id]


async def test_finished_jobs_are_never_queued_again(lstores):
    owner = owner_ids("a")["a"]
    done = await new_job(lstores, owner)
    assert await jobs.begin_attempt(lstores, done.id, "w1", 3) is not None
    media = jobs.Media(bytes=1, frames=8, fps=8, width=64, height=64)
    assert await jobs.complete_attempt(lstores, done.id, "w1", 1, media) is not None
    failed = await new_job(lstores, owner)
    await jobs.fail(lstores, failed.id, "generation_failed", "on purpose")

    swept = await lost_jobs.sweep(lstores, older_than_s=0)
    assert swept.looked_at == 0 and swept.recovered == 0
    assert (await queue.depth(lstores)).queued == 0


async def test_a_running_job_whose_entry_was_lost_goes_back_uncounted_and_its_old_attempt_is_fenced_out(lstores):
    owner = owner_ids("a")["a"]
    job = await new_job(lstores, owner)
    await queue.enqueue(lstores, job)
    entry = await queue.take(lstores, "w-old")
    assert entry is not None and entry.video_id == job.id
    started = await jobs.begin_attempt(lstores, job.id, "w-old", 3)
    assert started is not None and started.attempts == 1
    await queue.ack_entry(lstores, entry.entry_id)  # Redis lost the entry: no claim times out, nothing takes it

    swept = await lost_jobs.sweep(lstores, older_than_s=0)
    assert swept.released == [job.id] and swept.requeued == []
    doc = await jobs.get_job(lstores, job.id)
    assert (doc.status, doc.attempts, doc.worker, doc.last_error) == ("queued", 0, None, lost_jobs.LOST_REASON)
    media = jobs.Media(bytes=1, frames=8, fps=8, width=64, height=64)
    assert await jobs.complete_attempt(lstores, job.id, "w-old", 1, media) is None, "the lost attempt could still write"
    found = [(e.status, e.progress) for _, e in await events.read(lstores, job.id, "0-0", block_ms=1) if e.type == "status"]
    assert found[-1] == ("queued", 0)

    assert (await lost_jobs.sweep(lstores, older_than_s=0)).recovered == 0
    again = await queue.take(lstores, "w-new")
    assert again is not None and again.video_id == job.id
    assert (await jobs.begin_attempt(lstores, job.id, "w-new", 3)).attempts == 1


async def test_the_sweep_reads_every_page(lstores):
    who = owner_ids("a", "b")
    lost = [await new_job(lstores, who["a" if i % 2 else "b"]) for i in range(7)]
    kept = await new_job(lstores, who["a"])
    await queue.enqueue(lstores, kept)

    swept = await lost_jobs.sweep(lstores, older_than_s=0, page=3)
    assert sorted(swept.requeued) == sorted(j.id for j in lost) and swept.looked_at == 8
    assert (await queue.depth(lstores)).queued == 8


async def test_one_worker_sweeps_per_period(lstores):
    assert await queue.claim_sweep(lstores, "w1", 0.3)
    assert not await queue.claim_sweep(lstores, "w2", 0.3)
    assert not await queue.claim_sweep(lstores, "w1", 0.3)
    await asyncio.sleep(0.4)
    assert await queue.claim_sweep(lstores, "w2", 0.3)


async def test_a_worker_makes_a_job_redis_lost(lsettings, tmp_root):
    wsettings = private_settings(lsettings, job_sweep_every_s=0.5, job_sweep_after_s=1.0, worker_heartbeat_s=0.5)
    stores = open_stores(wsettings)
    await stores.db["videos"].delete_many({})
    proc = spawn(["worker", "--name", "sweeper"], wsettings, tmp_root / "logs" / "worker-sweeper.log", FABULA_GEN_THREADS="1")
    try:

        async def ready():
            return any(w.state == "idle" for w in await heartbeat.list_workers(stores))

        await poll(ready, timeout=90, what="the worker to be ready")
        job = await new_job(stores, owner_ids("a")["a"])  # never reached a lane

        async def finished():
            doc = await jobs.get_job(stores, job.id)
            return doc if doc.done else None

        done = await poll(finished, timeout=90, what="the lost job to be made")
        assert (done.status, done.attempts) == ("completed", 1), done

        async def counted():
            return [w for w in await heartbeat.list_workers(stores) if w.name == "sweeper" and w.jobs_recovered >= 1]

        await poll(counted, timeout=10, what="the worker to count the job it recovered")
        assert (await queue.depth(stores)).queued == 0
    finally:
        await stores.close()
        proc.stop()
