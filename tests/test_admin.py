"""The admin view (/v1/admin/workers, /v1/admin/queue) and the queue's
Prometheus metrics, against an api whose namespace holds a known queue and
one worker heartbeat."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from core.stores import open_stores
from gen import heartbeat, queue
from tests.conftest import signup
from tests.procs import start_api
from tests.test_queue import new_job, owner_ids, poll, private_settings

ADMIN = "boss_" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def asettings(settings):
    return private_settings(settings, admin_handles=f"someone_else, {ADMIN.upper()}", job_priority_max_cost=64 * 64)


@pytest.fixture(scope="module")
def admin_api(asettings, tmp_root):
    proc = start_api(asettings, tmp_root / "logs")
    yield proc
    proc.stop()


@pytest.fixture
async def ahttp(admin_api):
    async with httpx.AsyncClient(base_url=admin_api.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def queue_state(asettings):
    """Two short jobs and one long one queued, one short taken, one dead letter, one worker beating."""
    s = open_stores(asettings)
    who = owner_ids("A", "B")
    for owner, seconds in ((who["A"], 1), (who["A"], 1), (who["B"], 2), (who["B"], 1)):
        await queue.enqueue(s, await new_job(s, owner, seconds=seconds))
    running = await queue.take(s, "adm-w1")
    dead = await queue.take(s, "adm-w1")
    await queue.dead_letter(s, dead, "RuntimeError: out of memory", attempts=3, worker="adm-w1")
    status = heartbeat.WorkerStatus(
        name="adm-w1", state="busy", video_id=running.video_id, host="gpu-7", pid=4242, model="tiny",
        started_at=1_700_000_000.0, interval_s=60.0, jobs_done=12, jobs_failed=1, jobs_cancelled=2, jobs_last_min=3,
        steps_done=40, step_seconds_total=2.0, last_step_s=0.04, last_wait_ms=15,
        gpu_mem_bytes=1_000_000, gpu_mem_peak_bytes=2_000_000, gpu_mem_total_bytes=80_000_000,
    )
    await heartbeat.beat(s, status)
    yield {"running": running}
    await heartbeat.remove(s, "adm-w1")
    await s.close()


async def test_admin_views_need_an_admin(ahttp):
    for path in ("/v1/admin/workers", "/v1/admin/queue"):
        assert (await ahttp.get(path)).status_code == 401
        me = await signup(ahttp)
        r = await ahttp.get(path, headers=me["headers"])
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_admin"


async def test_admin_sees_workers_and_the_queue(ahttp, queue_state):
    boss = await signup(ahttp, handle=ADMIN)
    r = await ahttp.get("/v1/admin/workers", headers=boss["headers"])
    assert r.status_code == 200, r.text
    [w] = r.json()["data"]
    assert w["name"] == "adm-w1" and w["state"] == "busy" and w["video_id"] == queue_state["running"].video_id
    assert (w["host"], w["pid"], w["jobs_done"], w["jobs_cancelled"], w["jobs_last_min"]) == ("gpu-7", 4242, 12, 2, 3)
    assert w["mean_step_s"] == 0.05 and w["last_step_s"] == 0.04 and w["last_wait_ms"] == 15
    assert w["gpu_mem_bytes"] == 1_000_000 and w["gpu_mem_total_bytes"] == 80_000_000
    assert 0 <= w["last_beat_s_ago"] < 60

    r = await ahttp.get("/v1/admin/queue", headers=boss["headers"])
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["lanes"] == {"prio": 1, "std": 1} and q["queued"] == 2 and q["owners_waiting"] == {"prio": 1, "std": 1}
    assert q["in_flight"] == 1 and q["dead_letters"] == 1
    assert q["workers_alive"] == 1 and q["workers_busy"] == 1 and q["jobs_last_min"] == 3
    [dead] = q["recent_dead"]
    assert dead["reason"] == "RuntimeError: out of memory" and dead["attempts"] == 3 and dead["worker"] == "adm-w1"


def metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else r"(?:\{\})?") + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def test_metrics_show_the_queue_and_the_workers(ahttp, queue_state):
    async def scraped():
        text = (await ahttp.get("/metrics")).text
        return text if metric(text, "fabula_queue_up") == 1 else None

    text = await poll(scraped, timeout=15, what="queue metrics")
    assert metric(text, "fabula_queue_depth", 'lane="prio"') == 1
    assert metric(text, "fabula_queue_depth", 'lane="std"') == 1
    assert metric(text, "fabula_jobs_in_flight") == 1
    assert metric(text, "fabula_queue_dead_letters") == 1
    assert metric(text, "fabula_workers_alive") == 1 and metric(text, "fabula_workers_busy") == 1
    assert metric(text, "fabula_jobs_per_minute") == 3
    assert metric(text, "fabula_worker_jobs_done_total", 'worker="adm-w1"') == 12
    assert metric(text, "fabula_worker_steps_total", 'worker="adm-w1"') == 40
    assert metric(text, "fabula_worker_step_seconds_total", 'worker="adm-w1"') == 2.0
    assert metric(text, "fabula_worker_last_step_seconds", 'worker="adm-w1"') == 0.04
    assert metric(text, "fabula_worker_gpu_memory_bytes", 'kind="peak",worker="adm-w1"') == 2_000_000
