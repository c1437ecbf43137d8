"""The job queue against a real Valkey: lanes served round robin, the
priority lane and its bounded burst, delivery through the consumer group,
takeover of stale entries, fencing, retry, dead letters, withdrawal, waking;
and the per-user quota (the pure decision and the api's 429).

Each test works in a namespace of its own, so no worker sees its jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import msgspec
import pytest

from core.settings import Settings
from core.stores import open_stores
from gen import jobs, queue
from policy.quota import QuotaLimits, decide_enqueue
from tests.conftest import signup
from tests.procs import start_api

# --- helpers shared by the queue, worker, fairness, cancel and admin tests ----


def owner_ids(*names: str) -> dict[str, str]:
    """Unique owner ids: nx-27017 keeps one set of collections for every
    database name, so only Redis is private to a namespace."""
    tag = uuid.uuid4().hex[:8]
    return {n: f"user_{n}{tag}" for n in names}


def private_settings(settings: Settings, **overrides) -> Settings:
    """The session's servers under a namespace of its own (no other worker or api sees it)."""
    return msgspec.structs.replace(settings, namespace=settings.namespace + "q" + uuid.uuid4().hex[:6], **overrides)


async def poll(check: Callable[[], Awaitable], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert loop.time() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(interval)


async def new_job(stores, owner: str, *, seconds: int = 1, size: tuple[int, int] = (64, 64), steps: int = 2, prompt: str = "a red fox in snow", seed: int | None = 1) -> jobs.Job:
    return await jobs.create_job(
        stores, owner_id=owner, prompt=prompt, model="tiny", width=size[0], height=size[1], seconds=seconds, steps=steps, seed=seed
    )


@pytest.fixture
async def qstores(settings):
    """Stores in a private namespace; short visibility, a small priority threshold (64x64x1 s), burst 2."""
    s = open_stores(private_settings(settings, job_visibility_ms=200, job_priority_max_cost=64 * 64, job_priority_burst=2))
    yield s
    await s.close()


async def take_all(stores, consumer: str = "c1") -> list[queue.Entry]:
    out, ack = [], None
    while (entry := await queue.take(stores, consumer, ack=ack)) is not None:
        out.append(entry)
        ack = entry.entry_id
    return out


# --- lanes and fairness -------------------------------------------------------


async def test_owners_are_served_round_robin(qstores):
    who = owner_ids("A", "B", "C")
    for name, n in {"A": 5, "B": 2, "C": 1}.items():
        for _ in range(n):
            await queue.enqueue(qstores, await new_job(qstores, who[name]))
    taken = await take_all(qstores)
    name_of = {v: k for k, v in who.items()}
    assert [name_of[e.owner] for e in taken] == ["A", "B", "C", "A", "B", "A", "A", "A"]
    # within one owner, first in first out
    a_ids = [e.video_id for e in taken if e.owner == who["A"]]
    assert a_ids == sorted(a_ids)
    depth = await queue.depth(qstores)
    assert depth.queued == 0 and depth.in_flight == 0 and depth.owners == {"prio": 0, "std": 0}


async def test_priority_lane_goes_first_but_only_for_a_burst(qstores):
    for _ in range(6):  # 2 s of 64x64: over the threshold
        await queue.enqueue(qstores, await new_job(qstores, "A", seconds=2))
    for _ in range(6):
        await queue.enqueue(qstores, await new_job(qstores, "B", seconds=1))
    assert (await queue.depth(qstores)).lanes == {"prio": 6, "std": 6}
    taken = await take_all(qstores)
    assert "".join("P" if e.lane == "prio" else "S" for e in taken) == "PPSPPSPPSSSS"


async def test_priority_lane_can_be_turned_off(settings):
    s = open_stores(private_settings(settings, job_priority_max_cost=0))
    try:
        job = await new_job(s, "A")
        assert await queue.enqueue(s, job) == "std"
    finally:
        await s.close()


# --- delivery ------------------------------------------------------------------


async def test_take_delivers_through_the_group_and_ack_clears_it(qstores):
    job = await new_job(qstores, "A")
    assert await queue.enqueue(qstores, job) == "prio"
    entry = await queue.take(qstores, "c1")
    assert entry is not None and entry.video_id == job.id and entry.owner == "A" and entry.lane == "prio"
    assert entry.waited_ms is not None and entry.waited_ms >= 0 and not entry.reclaimed
    depth = await queue.depth(qstores)
    assert depth.queued == 0 and depth.in_flight == 1
    assert await queue.take(qstores, "c1", ack=entry.entry_id) is None
    assert (await queue.depth(qstores)).in_flight == 0
    assert await qstores.redis.xlen(queue.stream_key(qstores)) == 0  # acknowledged entries are deleted


async def test_a_stale_entry_is_taken_over_and_the_old_owner_is_fenced_out(qstores):
    job = await new_job(qstores, "A")
    await queue.enqueue(qstores, job)
    first = await queue.take(qstores, "c1")
    assert first is not None
    assert await queue.take(qstores, "c2") is None  # not stale yet (visibility 200 ms)

    async def reclaimed():
        return await queue.take(qstores, "c2")

    second = await poll(reclaimed, timeout=10, what="the stale entry to be taken over")
    assert second.entry_id == first.entry_id and second.video_id == job.id and second.reclaimed
    assert not await queue.touch(qstores, "c1", first.entry_id)  # c1 lost it
    assert await queue.touch(qstores, "c2", second.entry_id)


async def test_touch_keeps_a_long_job_from_being_taken_over(qstores):
    await queue.enqueue(qstores, await new_job(qstores, "A"))
    entry = await queue.take(qstores, "c1")
    loop = asyncio.get_running_loop()
    until = loop.time() + 1.0  # five visibility timeouts
    while loop.time() < until:
        assert await queue.touch(qstores, "c1", entry.entry_id)
        assert await queue.take(qstores, "c2") is None
        await asyncio.sleep(0.04)


async def test_retry_puts_the_job_back_and_dead_letter_keeps_the_reason(qstores):
    job = await new_job(qstores, "A")
    await queue.enqueue(qstores, job)
    entry = await queue.take(qstores, "c1")
    await queue.retry(qstores, entry)
    depth = await queue.depth(qstores)
    assert depth.queued == 1 and depth.in_flight == 0
    again = await queue.take(qstores, "c1")
    assert again.video_id == job.id and again.entry_id != entry.entry_id
    await queue.dead_letter(qstores, again, "RuntimeError: boom", attempts=2, worker="c1")
    depth = await queue.depth(qstores)
    assert depth.queued == 0 and depth.in_flight == 0 and depth.dead == 1
    [dead] = await queue.dead_letters(qstores)
    assert dead["video_id"] == job.id and dead["reason"] == "RuntimeError: boom" and dead["attempts"] == "2" and dead["owner"] == "A"


async def test_withdraw_takes_a_queued_job_out_of_its_lane(qstores):
    first, second = await new_job(qstores, "A"), await new_job(qstores, "A")
    await queue.enqueue(qstores, first)
    await queue.enqueue(qstores, second)
    assert await queue.withdraw(qstores, first.id, "A")
    assert not await queue.withdraw(qstores, first.id, "A")
    assert (await queue.depth(qstores)).lanes["prio"] == 1
    assert [e.video_id for e in await take_all(qstores)] == [second.id]
    assert await queue.withdraw(qstores, second.id, "A") is False  # already delivered


async def test_an_idle_worker_wakes_on_enqueue(qstores):
    waiter = asyncio.create_task(queue.wait(qstores, 10))
    await asyncio.sleep(0)  # let it block
    job = await new_job(qstores, "A")
    await queue.enqueue(qstores, job)
    assert await asyncio.wait_for(waiter, 5) is True
    entry = await queue.take(qstores, "c1", holding=True)
    assert entry.video_id == job.id
    assert await qstores.redis.llen(queue.wake_key(qstores)) == 0


async def test_next_entry_returns_none_after_block_and_tokens_do_not_pile_up(qstores):
    assert await queue.next_entry(qstores, "c1", block_s=0.05) is None
    for _ in range(3):
        await queue.enqueue(qstores, await new_job(qstores, "A"))
    taken = await take_all(qstores)
    assert len(taken) == 3
    assert await qstores.redis.llen(queue.wake_key(qstores)) == 0


async def test_enqueue_by_id_and_entries_of_older_versions(qstores):
    job = await new_job(qstores, "A", seconds=2)
    assert await queue.enqueue(qstores, job.id) == "std"  # read from the document
    assert await queue.enqueue(qstores, "video_gone") == "std"
    # an entry XADDed straight onto the stream, as the first version did
    await queue.ensure_group(qstores)
    await qstores.redis.xadd(queue.stream_key(qstores), {"video_id": "video_legacy"})
    got = {(e.video_id, e.owner) for e in await take_all(qstores)}
    assert got == {(job.id, "A"), ("video_gone", queue.ANONYMOUS), ("video_legacy", queue.ANONYMOUS)}


# --- fenced attempts (gen.jobs) ---------------------------------------------------


async def test_attempts_are_fenced_on_worker_and_attempt(qstores):
    owner = owner_ids("A")["A"]
    job = await new_job(qstores, owner)
    one = await jobs.begin_attempt(qstores, job.id, "w1", max_attempts=2)
    assert one.attempts == 1 and one.worker == "w1" and one.status == "in_progress"
    assert await jobs.report_progress(qstores, job.id, "w1", 1, 10)
    two = await jobs.begin_attempt(qstores, job.id, "w2", max_attempts=2)  # w1 presumed dead
    assert two.attempts == 2
    assert not await jobs.report_progress(qstores, job.id, "w1", 1, 20)
    assert await jobs.complete_attempt(qstores, job.id, "w1", 1, jobs.Media(bytes=1, frames=1, fps=1, width=1, height=1)) is None
    assert await jobs.begin_attempt(qstores, job.id, "w3", max_attempts=2) is None  # attempts used up
    assert await jobs.requeue_attempt(qstores, job.id, "w2", 2, "boom") is not None
    assert (await jobs.get_job(qstores, job.id)).last_error == "boom"
    assert await jobs.count_unfinished(qstores, owner) == (0, 1)


# --- quota -----------------------------------------------------------------------


def test_quota_decision():
    limits = QuotaLimits(max_pending=3, max_queued=2)
    assert decide_enqueue(0, 0, limits).allowed
    assert decide_enqueue(1, 1, limits).allowed
    refused = decide_enqueue(2, 1, limits)
    assert not refused.allowed and refused.category == "quota" and "limit is 3" in refused.reason
    assert not decide_enqueue(0, 2, limits).allowed
    assert decide_enqueue(10_000, 10_000, QuotaLimits(max_pending=None)).allowed
    assert QuotaLimits.from_settings(Settings(quota_max_pending=0, quota_max_queued=5)) == QuotaLimits(max_pending=None, max_queued=5)


@pytest.fixture(scope="module")
def quota_api(settings, tmp_root):
    """An api with a quota of two unfinished videos and no worker."""
    proc = start_api(private_settings(settings, quota_max_pending=2), tmp_root / "logs")
    yield proc
    proc.stop()


async def test_create_over_quota_is_429_until_one_is_cancelled(quota_api):
    async with httpx.AsyncClient(base_url=quota_api.url, timeout=30) as http:
        me = await signup(http)
        ids = []
        for i in range(2):
            r = await http.post("/v1/videos", json={"prompt": f"boats {i}"}, headers=me["headers"])
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        r = await http.post("/v1/videos", json={"prompt": "one too many"}, headers=me["headers"])
        assert r.status_code == 429, r.text
        err = r.json()["error"]
        assert err["code"] == "quota_exceeded" and "limit is 2" in err["message"] and err["details"] == {"in_progress": 0, "queued": 2}
        other = await signup(http)  # the quota is per user
        assert (await http.post("/v1/videos", json={"prompt": "mine"}, headers=other["headers"])).status_code == 200
        r = await http.post(f"/v1/videos/{ids[0]}/cancel", headers=me["headers"])
        assert r.status_code == 200 and r.json()["status"] == "failed" and r.json()["error"]["code"] == "cancelled"
        assert (await http.post("/v1/videos", json={"prompt": "now it fits"}, headers=me["headers"])).status_code == 200
