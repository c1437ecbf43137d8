"""Everything survives a restart of the services: accounts, follows, videos,
posts, and a job still queued when Valkey stopped (append-only file)."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest

from clients.sdk import FabulaClient
from core.embedded import EmbeddedServices
from tests.procs import start_api, start_worker


async def wait_status(client: FabulaClient, video_id: str, status: str, timeout: float = 180) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        video = await client.video(video_id)
        if video["status"] == status:
            return video
        assert video["status"] not in ({"completed", "failed"} - {status}), video
        assert asyncio.get_running_loop().time() < deadline, f"{video_id} still {video['status']}"
        await asyncio.sleep(0.2)


@pytest.fixture
def fresh_services(tmp_path, settings):
    """A private pair of servers whose data directory outlives them."""
    data = tmp_path / "services"
    started: list[EmbeddedServices] = []

    def start():
        svc = EmbeddedServices.start(data)
        started.append(svc)
        return svc, msgspec.structs.replace(settings, mongo_url=svc.mongo_url, redis_url=svc.redis_url, data_dir=tmp_path / "data")

    yield start
    for svc in started:
        svc.stop()


async def test_data_and_queued_jobs_survive_restart(fresh_services, tmp_path):
    logs = tmp_path / "logs"
    pw = "restart password"
    ha, hb = "ra" + uuid.uuid4().hex[:8], "rb" + uuid.uuid4().hex[:8]

    services, s1 = fresh_services()
    api, worker = start_api(s1, logs), start_worker(s1, logs, "before")
    try:
        async with FabulaClient(api.url) as a, FabulaClient(api.url) as b:
            await a.signup(ha, pw, "1990-01-01")
            await b.signup(hb, pw, "1990-01-01")
            await b.follow(ha)
            done = await a.create_video("lanterns over a river", seconds=1, size="64x64")
            await wait_status(a, done["id"], "completed")
            post = await a.publish(done["id"], "lanterns")
            worker.stop()
            queued = await a.create_video("a kite over dunes", seconds=1, size="64x64")
            token_a = a.token
    finally:
        worker.stop()
        api.stop()
    services.stop()

    services, s2 = fresh_services()
    api = start_api(s2, logs)
    worker = None
    try:
        async with FabulaClient(api.url, token=token_a) as a, FabulaClient(api.url) as b:
            assert (await a.me())["handle"] == ha  # a token issued before the restart still works
            await b.login(hb, pw)
            assert (await b.user(ha))["followers"] == 1
            assert (await a.video(done["id"]))["status"] == "completed"
            feed = await b.feed()
            assert [p["id"] for p in feed["data"]] == [post["id"]]
            assert (await a.video(queued["id"]))["status"] == "queued"
            worker = start_worker(s2, logs, "after")
            finished = await wait_status(a, queued["id"], "completed")
            assert finished["frames"] == 9
    finally:
        if worker:
            worker.stop()
        api.stop()


async def test_a_stopping_worker_finishes_a_job_within_its_grace_period(fresh_services, tmp_path):
    """SIGTERM takes no more jobs; the running one, done within the grace period, completes once."""
    services, s = fresh_services()
    s = msgspec.structs.replace(s, worker_stop_grace_s=60.0)
    api, worker = start_api(s, tmp_path / "logs"), start_worker(s, tmp_path / "logs", "graceful")
    try:
        async with FabulaClient(api.url) as a:
            await a.signup("g" + uuid.uuid4().hex[:8], "restart password", "1990-01-01")
            first = await a.create_video("a heron in reeds", seconds=2, size="64x64", steps=20)
            second = await a.create_video("a heron takes off", seconds=1, size="64x64")
            deadline = asyncio.get_running_loop().time() + 180
            while (await a.video(first["id"]))["status"] != "in_progress":
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            assert worker.stop(timeout=120) == 0
            assert (await a.video(first["id"]))["status"] == "completed"
            assert (await a.video(second["id"]))["status"] == "queued"  # not taken by a stopping worker
        assert "Traceback" not in worker.log()
    finally:
        worker.stop()
        api.stop()
