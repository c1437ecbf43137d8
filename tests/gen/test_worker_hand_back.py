"""A stopping worker's hand-back: its grace timer and the pipeline's own stop
can both ask to give the running job back. Every caller must wait for the one
hand-back, so the worker closes its connections only after the job is back in
its lane (a second caller that returned early let the worker close Redis
under the first one's release).

To hold the first hand-back inside its Redis release for a while, the test
pauses the real Valkey's writes (``CLIENT PAUSE ... WRITE``, which holds
scripts too) for a moment."""

from __future__ import annotations

import asyncio

from core.stores import open_stores
from gen import jobs, queue
from gen.worker import Running, Worker
from tests.gen.test_queue import new_job, owner_ids, poll, private_settings

PAUSE_MS = 600


async def test_a_second_hand_back_waits_for_the_first_and_the_job_is_back_once(settings):
    wsettings = private_settings(settings)
    worker = Worker(wsettings, name="hb-worker")
    worker.stores = stores = open_stores(wsettings)
    try:
        await queue.ensure_group(stores)
        owner = owner_ids("a")["a"]
        job = await new_job(stores, owner)
        await queue.enqueue(stores, job)
        entry = await queue.take(stores, worker.name)
        assert entry is not None and entry.video_id == job.id
        started = await jobs.begin_attempt(stores, job.id, worker.name, 3)
        assert started is not None and started.attempts == 1
        run = Running(entry=entry, job=started)
        worker.current = run

        await stores.redis.execute_command("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        first = asyncio.create_task(worker.hand_back(run))  # the grace timer's
        # its Mongo half done, it now waits in its Redis release
        await poll(lambda: _status_is(stores, job.id, "queued"), what="the first hand-back's Mongo half")
        assert not first.done()
        await worker.hand_back(run)  # the pipeline's stop
        assert first.done(), "the second hand-back returned while the first was still giving the job back"
        await first

        assert run.handed_back and run.stop == "shutdown"
        back = await jobs.get_job(stores, job.id)
        assert back.status == "queued" and back.attempts == 0 and back.worker is None
        # back in its lane exactly once, and taken next
        again = await queue.take(stores, "hb-other")
        assert again is not None and again.video_id == job.id
        assert await queue.take(stores, "hb-other", ack=again.entry_id) is None
    finally:
        await stores.close()


async def _status_is(stores, video_id: str, status: str) -> bool:
    return (await jobs.get_job(stores, video_id)).status == status
