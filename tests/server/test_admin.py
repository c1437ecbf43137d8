"""The admin view (/v1/admin/workers, /v1/admin/queue) and the queue's
Prometheus metrics, against an api whose namespace holds a known queue and
one worker heartbeat; admin rights granted and revoked by ``fabula admin``."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import httpx
import pytest

from core.stores import open_stores
from gen import heartbeat, queue
from tests.conftest import signup
from tests.procs import child_env, start_api
from tests.gen.test_queue import new_job, owner_ids, poll, private_settings

ADMIN = "boss_" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def asettings(settings):
    return private_settings(settings, job_priority_max_cost=64 * 64)


@pytest.fixture(scope="module")
def admin_api(asettings, tmp_root):
    # Admin rights once came from handles named in settings, which made the
    # first person to sign up with a listed handle an admin: such a setting is ignored.
    proc = start_api(asettings, tmp_root / "logs", FABULA_ADMIN_HANDLES=f"someone_else, {ADMIN.upper()}")
    yield proc
    proc.stop()


def fabula_admin(asettings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "admin", *args], env=child_env(asettings), capture_output=True, text=True, timeout=60
    )


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
        started_at=1_700_000_000.0, interval_s=60.0, jobs_done=12, jobs_failed=1, jobs_cancelled=2, jobs_recovered=4, jobs_last_min=3,
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


async def test_admin_rights_come_from_the_command_only(ahttp, asettings):
    boss = await signup(ahttp, handle=ADMIN)  # a handle the ignored setting names
    r = await ahttp.get("/v1/admin/workers", headers=boss["headers"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_admin"

    done = fabula_admin(asettings, "grant", ADMIN.lower())
    assert done.returncode == 0, done.stderr
    assert ADMIN in done.stdout
    assert (await ahttp.get("/v1/admin/workers", headers=boss["headers"])).status_code == 200
    listed = fabula_admin(asettings, "list")
    assert listed.returncode == 0 and ADMIN in listed.stdout.split()

    done = fabula_admin(asettings, "revoke", ADMIN)
    assert done.returncode == 0, done.stderr
    r = await ahttp.get("/v1/admin/workers", headers=boss["headers"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_admin"
    assert ADMIN not in fabula_admin(asettings, "list").stdout.split()

    unknown = fabula_admin(asettings, "grant", "nobody_" + uuid.uuid4().hex[:8])
    assert unknown.returncode != 0 and "no such user" in unknown.stderr
    assert fabula_admin(asettings, "grant", "not a handle!").returncode != 0


async def test_admin_sees_workers_and_the_queue(ahttp, queue_state, asettings):
    boss = await signup(ahttp)
    assert fabula_admin(asettings, "grant", boss["user"]["handle"]).returncode == 0
    r = await ahttp.get("/v1/admin/workers", headers=boss["headers"])
    assert r.status_code == 200, r.text
    [w] = r.json()["data"]
    assert w["name"] == "adm-w1" and w["state"] == "busy" and w["video_id"] == queue_state["running"].video_id
    assert (w["host"], w["pid"], w["jobs_done"], w["jobs_cancelled"], w["jobs_last_min"]) == ("gpu-7", 4242, 12, 2, 3)
    assert w["jobs_recovered"] == 4
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
    assert metric(text, "fabula_worker_jobs_recovered_total", 'worker="adm-w1"') == 4
    assert metric(text, "fabula_worker_steps_total", 'worker="adm-w1"') == 40
    assert metric(text, "fabula_worker_step_seconds_total", 'worker="adm-w1"') == 2.0
    assert metric(text, "fabula_worker_last_step_seconds", 'worker="adm-w1"') == 0.04
    assert metric(text, "fabula_worker_gpu_memory_bytes", 'kind="peak",worker="adm-w1"') == 2_000_000


async def test_admin_command_finds_a_running_fabula_dev(ahttp, asettings, tmp_path):
    import json

    # what `fabula dev --data DIR` leaves beside its servers while it runs
    env = child_env(asettings)
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "running.json").write_text(
        json.dumps({k: env[k] for k in ("FABULA_MONGO_URL", "FABULA_REDIS_URL", "FABULA_NAMESPACE")})
    )
    for name in ("FABULA_MONGO_URL", "FABULA_REDIS_URL", "FABULA_NAMESPACE"):
        del env[name]
    someone = await signup(ahttp)
    cmd = [sys.executable, "-m", "cli.main", "admin", "--data", str(tmp_path), "grant", someone["user"]["handle"]]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (await ahttp.get("/v1/admin/queue", headers=someone["headers"])).status_code == 200
    cmd[cmd.index("--data") + 1] = str(tmp_path / "elsewhere")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "fabula dev" in done.stderr
