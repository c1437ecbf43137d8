"""Cancelling videos: a running one stops within one denoising step, writes
nothing and frees its worker; a queued one leaves its lane; the route's
answers for finished, foreign and unknown videos."""

from __future__ import annotations

from core.stores import open_stores
from gen import events, heartbeat, jobs, queue
from gen.cancel import cancel_job
from core.media_store import LocalMediaStore
from tests.conftest import signup
from tests.gen.test_queue import new_job, owner_ids, poll, private_settings

STEPS = 40


async def video(http, me, video_id: str) -> dict:
    r = await http.get(f"/v1/videos/{video_id}", headers=me["headers"])
    assert r.status_code == 200, r.text
    return r.json()


async def test_cancel_a_running_video_stops_it_within_a_step(http, worker, stores, settings):
    me = await signup(http)
    r = await http.post("/v1/videos", json={"prompt": "a slow sunrise over hills", "size": "64x64", "seconds": "1", "steps": STEPS}, headers=me["headers"])
    assert r.status_code == 200, r.text
    vid = r.json()["id"]

    async def running():
        v = await video(http, me, vid)
        assert v["status"] in ("queued", "in_progress"), v
        return v if v["status"] == "in_progress" and v["progress"] > 0 else None

    await poll(running, timeout=120, what="the video to make progress")
    r = await http.post(f"/v1/videos/{vid}/cancel", headers=me["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "failed" and body["error"]["code"] == "cancelled"

    # the worker is free: the next video runs to the end
    r = await http.post("/v1/videos", json={"prompt": "a quick wave", "size": "64x64", "seconds": "1", "steps": 1}, headers=me["headers"])
    nxt = r.json()["id"]

    async def next_done():
        v = await video(http, me, nxt)
        assert v["status"] != "failed", v
        return v["status"] == "completed"

    await poll(next_done, timeout=120, what="the next video to complete")

    history = [e for _, e in await events.read(stores, vid, "0-0", block_ms=1)]
    cancelled_at = next(i for i, e in enumerate(history) if e.type == "status" and e.status == "failed")
    assert history[cancelled_at].error["code"] == "cancelled"
    after = [e for e in history[cancelled_at + 1 :]]
    assert all(e.type == "progress" for e in after) and len(after) <= 1, f"worker went on after the cancel: {after}"
    steps = [e.step for e in history if e.type == "progress"]
    assert steps and max(steps) < STEPS
    final = await video(http, me, vid)
    assert final["status"] == "failed" and final["error"]["code"] == "cancelled"
    assert not LocalMediaStore(settings.media_root).exists(vid, "video")

    async def worker_counted_it():
        for w in await heartbeat.list_workers(stores):
            if w.name == "session-worker" and w.jobs_cancelled >= 1 and w.video_id != vid:
                return w
        return None

    await poll(worker_counted_it, timeout=30, what="the worker's heartbeat to count the cancel")
    assert (await http.post(f"/v1/videos/{vid}/cancel", headers=me["headers"])).status_code == 409


async def test_cancel_a_queued_job_takes_it_out_of_its_lane(settings):
    s = open_stores(private_settings(settings))
    try:
        owner = owner_ids("A")["A"]
        keep, drop = await new_job(s, owner), await new_job(s, owner)
        await queue.enqueue(s, keep)
        await queue.enqueue(s, drop)
        assert await cancel_job(s, drop.id)
        assert not await cancel_job(s, drop.id)  # already finished
        assert not await cancel_job(s, "video_unknown")
        job = await jobs.get_job(s, drop.id)
        assert job.status == "failed" and job.error.code == "cancelled" and job.completed_at is not None
        assert (await queue.depth(s)).queued == 1
        entry = await queue.take(s, "c1")
        assert entry.video_id == keep.id and await queue.take(s, "c1", ack=entry.entry_id) is None
        [(_, event)] = await events.read(s, drop.id, "0-0", block_ms=1)
        assert event.status == "failed" and event.error == {"code": "cancelled", "message": "cancelled by its owner"}
    finally:
        await s.close()


async def test_cancel_route_answers(http):
    owner, other = await signup(http), await signup(http)
    # many steps: a worker that picks it up cannot finish before the cancel
    vid = (await http.post("/v1/videos", json={"prompt": "clouds", "steps": 100}, headers=owner["headers"])).json()["id"]
    assert (await http.post(f"/v1/videos/{vid}/cancel")).status_code == 401
    r = await http.post(f"/v1/videos/{vid}/cancel", headers=other["headers"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "video_not_found"
    assert (await http.post("/v1/videos/video_nope/cancel", headers=owner["headers"])).status_code == 404
    r = await http.post(f"/v1/videos/{vid}/cancel", headers=owner["headers"])
    assert r.status_code == 200 and r.json()["error"]["code"] == "cancelled"
    r = await http.post(f"/v1/videos/{vid}/cancel", headers=owner["headers"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_finished"
