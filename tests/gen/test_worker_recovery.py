"""Workers that die or fail: a worker killed with SIGKILL mid-job leaves its
entry pending, another worker takes it over after the visibility timeout and
completes it exactly once; attempts are counted across crashes and failures,
and after ``job_max_attempts`` the job fails and is dead-lettered.

Three real worker processes share a private namespace with a short
visibility timeout and at most two attempts per job."""

from __future__ import annotations

import signal

import pytest

from core.stores import open_stores
from gen import events, heartbeat, jobs, previews, queue
from gen.worker import Worker
from tests.procs import spawn
from tests.gen.test_queue import new_job, owner_ids, poll, private_settings

FAULT = "FAULT-INJECTED"
NAMES = ("rw1", "rw2", "rw3")


@pytest.fixture(scope="module")
def rsettings(settings):
    return private_settings(settings, job_visibility_ms=1500, worker_heartbeat_s=0.3, job_max_attempts=2, worker_fail_prompt=FAULT)


@pytest.fixture(scope="module")
def fleet(rsettings, tmp_root):
    # one torch thread each: three workers share the host's cores
    procs = {name: spawn(["worker", "--name", name], rsettings, tmp_root / "logs" / f"worker-{name}.log", FABULA_GEN_THREADS="1") for name in NAMES}
    yield procs
    for proc in procs.values():
        proc.stop()


@pytest.fixture
async def rstores(rsettings):
    s = open_stores(rsettings)
    yield s
    await s.close()


async def live_workers(stores, fleet, n: int = 1) -> list[str]:
    """Names of at least ``n`` workers that are up and idle."""

    async def ready():
        idle = [w.name for w in await heartbeat.list_workers(stores) if w.state == "idle" and fleet[w.name].proc.poll() is None]
        return idle if len(idle) >= n else None

    return await poll(ready, timeout=90, what=f"{n} idle workers")


async def status_events(stores, video_id: str) -> list[tuple[str, str | None]]:
    """The job's status events, once the final one is out (it follows the document's update)."""

    async def check():
        found = [(e.status, (e.error or {}).get("code")) for _, e in await events.read(stores, video_id, "0-0", block_ms=1) if e.type == "status"]
        return found if found and found[-1][0] in ("completed", "failed") else None

    return await poll(check, timeout=10, what=f"the final status event of {video_id}")


async def running_on(stores, video_id: str, attempt: int) -> jobs.Job:
    """The job once ``attempt`` is under way (progress reported)."""

    async def check():
        job = await jobs.get_job(stores, video_id)
        assert job.status in ("queued", "in_progress"), job
        return job if job.attempts == attempt and job.status == "in_progress" and job.progress > 0 else None

    return await poll(check, timeout=60, interval=0.02, what=f"attempt {attempt} of {video_id} to make progress")


async def finished(stores, video_id: str, timeout: float = 60) -> jobs.Job:
    async def check():
        job = await jobs.get_job(stores, video_id)
        return job if job.done else None

    return await poll(check, timeout=timeout, what=f"{video_id} to finish")


def slow_job(stores, owner: str):
    return new_job(stores, owner, size=(128, 128), steps=40, prompt="lanterns drifting over a river")


async def test_a_failing_job_is_retried_then_dead_lettered(rstores, fleet):
    await live_workers(rstores, fleet)
    job = await new_job(rstores, owner_ids("A")["A"], prompt=f"a cat {FAULT}")
    await queue.enqueue(rstores, job)
    done = await finished(rstores, job.id)
    assert done.status == "failed" and done.attempts == 2
    assert done.error.code == "too_many_attempts"
    assert "gave up after 2 attempts" in done.error.message and "InjectedFault" in done.error.message
    assert done.last_error and "InjectedFault" in done.last_error
    assert await status_events(rstores, job.id) == [
        ("in_progress", None), ("queued", "retrying"), ("in_progress", None), ("failed", "too_many_attempts"),
    ]
    dead = [d for d in await queue.dead_letters(rstores) if d["video_id"] == job.id]
    assert len(dead) == 1 and dead[0]["attempts"] == "2" and "InjectedFault" in dead[0]["reason"]
    depth = await queue.depth(rstores)
    assert depth.queued == 0 and depth.in_flight == 0


async def test_a_job_whose_worker_is_killed_completes_once_elsewhere(rstores, rsettings, fleet):
    await live_workers(rstores, fleet, n=2)
    job = await slow_job(rstores, owner_ids("A")["A"])
    await queue.enqueue(rstores, job)
    first = await running_on(rstores, job.id, attempt=1)
    victim = fleet[first.worker]
    victim.stop(signal.SIGKILL)
    assert victim.proc.returncode == -signal.SIGKILL

    done = await finished(rstores, job.id)
    assert done.status == "completed", done
    assert done.attempts == 2 and done.worker != first.worker and done.worker in fleet
    assert done.media is not None and done.media.width == 128
    # outputs keyed by the job id: one folder, the video and its thumbnail, nothing else
    folder = rsettings.media_root / job.id
    assert sorted(p.name for p in folder.iterdir()) == ["thumbnail.jpg", "video.mp4"]
    assert [p.name for p in rsettings.media_root.iterdir() if p.name.startswith(job.id)] == [job.id]
    statuses = await status_events(rstores, job.id)
    assert statuses == [("in_progress", None), ("in_progress", None), ("completed", None)]
    latest = await previews.latest(rstores, job.id)  # live previews came with the steps
    assert latest is not None and latest[1].image[:3] == b"\xff\xd8\xff" and latest[1].steps == 40
    assert (await queue.depth(rstores)).in_flight == 0

    async def victim_gone():  # its heartbeat expires
        return first.worker not in {w.name for w in await heartbeat.list_workers(rstores)}

    await poll(victim_gone, timeout=10, what="the killed worker's heartbeat to expire")


async def test_attempts_count_across_crashes_and_end_in_the_dead_letter_stream(rstores, rsettings, fleet):
    alive = await live_workers(rstores, fleet, n=2)
    assert len(alive) == 2, "the previous test leaves two workers"
    job = await slow_job(rstores, owner_ids("A")["A"])
    await queue.enqueue(rstores, job)
    for attempt in (1, 2):
        running = await running_on(rstores, job.id, attempt=attempt)
        fleet[running.worker].stop(signal.SIGKILL)
    assert all(proc.proc.poll() is not None for proc in fleet.values())

    # the next worker to take the entry over finds its attempts used up; it
    # gives up before loading anything, so an in-process one will do
    final = Worker(rsettings, name="rw-final")
    final.stores = rstores
    entry = await poll(lambda: queue.take(rstores, final.name), timeout=30, what="the entry to be taken over")
    assert entry.video_id == job.id and entry.reclaimed
    assert await final.handle(entry) is None

    done = await jobs.get_job(rstores, job.id)
    assert done.status == "failed" and done.attempts == 2 and done.error.code == "too_many_attempts"
    assert f"worker {running.worker} stopped answering during attempt 2" in done.error.message
    dead = [d for d in await queue.dead_letters(rstores) if d["video_id"] == job.id]
    assert len(dead) == 1 and dead[0]["worker"] == "rw-final" and "stopped answering" in dead[0]["reason"]
    assert not (rsettings.media_root / job.id).exists()
    depth = await queue.depth(rstores)
    assert depth.queued == 0 and depth.in_flight == 0
