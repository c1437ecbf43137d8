"""``fabula dev`` runs the whole house as one process tree, says it serves
only once a worker is ready, and stops it together, in order: a Ctrl-C in
the middle of a job hands the job back to its lane, prints no traceback,
and leaves the servers up until the worker has gone."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import httpx
import psutil
import pytest
from pymongo import MongoClient
from redis import Redis

from core.embedded import EmbeddedServices, free_port


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "cli.main", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("dev", "api", "worker", "feed-builder"):
        assert command in out


def start_dev(tmp_path, model_dir, port: int, **env_extra: str) -> tuple[subprocess.Popen, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABULA_")}
    env.update(FABULA_MODEL_DIR=str(model_dir), FABULA_GEN_THREADS="1", **env_extra)
    log = open(tmp_path / "dev.log", "ab")
    # a session of its own, as a shell gives a foreground job: Ctrl-C is SIGINT to the whole group
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dev", "--port", str(port), "--data", str(tmp_path / "var")],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    return proc, log


def wait_serving(tmp_path, proc: subprocess.Popen, timeout: float = 240.0, since: int = 0) -> str:
    """The log from the point `fabula dev` printed its URL (after ``since`` characters of it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        text = (tmp_path / "dev.log").read_text(errors="replace")
        at = text.find("fabula dev: serving on", since)
        if at >= 0:
            return text[at:]
        time.sleep(0.2)
    raise AssertionError("fabula dev did not serve:\n" + (tmp_path / "dev.log").read_text(errors="replace")[-4000:])


def ctrl_c(proc: subprocess.Popen, timeout: float = 60.0) -> float:
    """SIGINT to the process group, as a terminal's Ctrl-C; returns how long stopping took."""
    began = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout) == 0
    return time.monotonic() - began


async def a_long_job(url: str) -> tuple[str, dict]:
    """A user and a job that runs for a while on the tiny preset, seen in progress."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post("/v1/auth/signup", json={"handle": "d" + uuid.uuid4().hex[:10], "password": "correct horse battery", "birth_date": "1990-01-01"})
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await http.post("/v1/videos", json={"prompt": "a slow tide", "seconds": "12", "steps": 100}, headers=headers)
        assert r.status_code == 200, r.text
        vid = r.json()["id"]
        deadline = time.monotonic() + 120
        while True:
            video = (await http.get(f"/v1/videos/{vid}", headers=headers)).json()
            if video["status"] == "in_progress" and video["progress"] > 0:
                return vid, headers
            assert video["status"] in ("queued", "in_progress") and time.monotonic() < deadline, video
            await asyncio.sleep(0.1)


def test_dev_waits_for_a_worker_and_stops_in_order_handing_a_running_job_back(tmp_path, model_dir):
    port = free_port()
    proc, log = start_dev(tmp_path, model_dir, port, FABULA_WORKER_STOP_GRACE_S="0.5")
    try:
        wait_serving(tmp_path, proc)
        # the URL is printed once a worker is ready: /readyz says so
        r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert r.status_code == 200 and r.json()["checks"] == {"mongo": True, "redis": True} and r.json()["workers"] == 1
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "valkey-server" in names and "nx-27017" in names and " api " in names + " " and "worker" in names
        assert "feed-builder" in names
        # data lands under --data
        assert (tmp_path / "var" / "services" / "valkey" / "appendonlydir").exists()
        assert (tmp_path / "var" / "services" / "mongo" / "mongo.sqlite").exists()

        vid, _ = asyncio.run(a_long_job(f"http://127.0.0.1:{port}"))
        took = ctrl_c(proc)
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [c.cmdline() for c in alive]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    text = (tmp_path / "dev.log").read_text(errors="replace")
    assert "Traceback" not in text, text[-6000:]
    assert re.search(r'"msg":"job handed back: the worker is stopping","video_id":"' + vid, text), text[-4000:]
    assert took < 0.5 + 15, took  # the grace period, a step, and the others' orderly stops

    # the job waits at the head of its owner's lane, its interrupted attempt uncounted
    services = EmbeddedServices.start(tmp_path / "var" / "services")
    try:
        job = MongoClient(services.mongo_url)["fabula"]["videos"].find_one({"_id": vid})
        assert (job["status"], job["attempts"], job["worker"]) == ("queued", 0, None)
        redis = Redis.from_url(services.redis_url)
        lane = redis.lrange(f"fabula:jobs:lane:prio:{job['owner_id']}", 0, 0) or redis.lrange(f"fabula:jobs:lane:std:{job['owner_id']}", 0, 0)
        assert lane and lane[0].decode().startswith(vid + " ")
        assert redis.xlen("fabula:jobs") == 0  # nothing left in flight for the visibility timeout to find
    finally:
        services.stop()


def test_a_job_stopped_by_ctrl_c_is_taken_at_once_on_the_next_start(tmp_path, model_dir):
    port = free_port()
    # a visibility timeout far beyond the test: only a hand-back gets the job going again in time
    env = dict(FABULA_WORKER_STOP_GRACE_S="0.2", FABULA_JOB_VISIBILITY_MS="600000")
    proc, log = start_dev(tmp_path, model_dir, port, **env)
    try:
        wait_serving(tmp_path, proc)
        vid, headers = asyncio.run(a_long_job(f"http://127.0.0.1:{port}"))
        ctrl_c(proc)
        log.close()
        before = len((tmp_path / "dev.log").read_text(errors="replace"))
        proc, log = start_dev(tmp_path, model_dir, port, **env)
        wait_serving(tmp_path, proc, since=before)
        # taken within seconds of the start, far inside the visibility timeout
        pattern = re.compile(r'"msg":"job started","video_id":"' + vid + r'","attempt":(\d+),.*?"reclaimed":(true|false)')
        began = time.monotonic()
        while not (started := pattern.findall((tmp_path / "dev.log").read_text(errors="replace")[before:])):
            assert time.monotonic() - began < 60, "the handed-back job was not taken after the restart"
            time.sleep(0.1)
        assert started[-1] == ("1", "false"), started  # the first counted attempt, not a takeover
        ctrl_c(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert "Traceback" not in (tmp_path / "dev.log").read_text(errors="replace")



def test_dev_killed_outright_leaves_nothing_running(tmp_path, model_dir):
    port = free_port()
    proc, log = start_dev(tmp_path, model_dir, port, FABULA_WORKER_STOP_GRACE_S="0.5")
    tree: list[psutil.Process] = []
    try:
        wait_serving(tmp_path, proc)
        tree = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in tree)
        assert "valkey-server" in names and "nx-27017" in names and "worker" in names and "feed-builder" in names
        os.kill(proc.pid, signal.SIGKILL)  # no chance to stop anything itself
        proc.wait(10)
        gone, alive = psutil.wait_procs(tree, timeout=60)
        assert not alive, [c.cmdline() for c in alive]
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for child in tree:  # nothing of this test's tree may outlive it, whatever failed
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        log.close()


def _child(proc: subprocess.Popen, word: str) -> psutil.Process:
    """The one process of ``fabula dev``'s tree whose command line holds ``word`` (a watcher's says orphan_guard)."""
    found = [
        c for c in psutil.Process(proc.pid).children(recursive=True)
        if word in " ".join(c.cmdline()) and "orphan_guard" not in " ".join(c.cmdline())
    ]
    assert len(found) == 1, [c.cmdline() for c in found]
    return found[0]


def test_a_child_or_server_that_dies_is_started_again(tmp_path, model_dir):
    """The worker killed mid-job, then Valkey killed: ``fabula dev`` starts each
    again and keeps serving; the killed job is taken over by the new worker and
    completes; a later create works; Ctrl-C still stops it all, cleanly."""
    port = free_port()
    proc, log = start_dev(tmp_path, model_dir, port, FABULA_WORKER_STOP_GRACE_S="0.2", FABULA_JOB_VISIBILITY_MS="3000")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(tmp_path, proc)
        vid, headers = asyncio.run(a_long_job(url))
        worker = _child(proc, "dev-worker")
        worker.kill()
        worker.wait(10)

        def status() -> str:
            r = httpx.get(f"{url}/v1/videos/{vid}", headers=headers, timeout=10)
            return r.json()["status"] if r.status_code == 200 else f"HTTP {r.status_code}"

        deadline = time.monotonic() + 240
        while (now := status()) != "completed":
            assert proc.poll() is None and now in ("queued", "in_progress") and time.monotonic() < deadline, now
            time.sleep(0.5)
        assert _child(proc, "dev-worker").pid != worker.pid

        valkey = _child(proc, "valkey-server")
        valkey.kill()
        valkey.wait(10)
        deadline = time.monotonic() + 60
        while True:  # 503 while it is down, then served again
            r = httpx.get(f"{url}/v1/videos", headers=headers, timeout=30)
            if r.status_code == 200:
                break
            assert r.status_code == 503 and proc.poll() is None and time.monotonic() < deadline, r.text
            time.sleep(0.5)
        assert _child(proc, "valkey-server").pid != valkey.pid
        r = httpx.post(f"{url}/v1/videos", json={"prompt": "a red kite", "seconds": "1", "size": "64x64", "steps": 2}, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        ctrl_c(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    text = (tmp_path / "dev.log").read_text(errors="replace")
    assert "fabula dev: worker exited with -9; started it again" in text, text[-4000:]
    assert "fabula dev: valkey had stopped; started it again on the same port" in text, text[-4000:]
    assert re.search(r'"msg":"job started","video_id":"' + vid + r'","attempt":2', text), text[-4000:]
