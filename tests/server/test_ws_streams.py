"""Job events and previews on the WebSocket come from one blocking Redis read
per api process, fanned out in memory (server.ws.streams): many
subscriptions to one job (or to many) hold one reader, and every subscriber
still gets every event, in order, and the final video. A socket follows at
most ``ws_max_subscriptions`` videos (the socket cap is tests/server/test_ws_limits.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from core.clock import utcnow
from core.messages import JobEvent
from gen import events, jobs
from tests.conftest import signup
from tests.server.test_previews_delivery import parse_by_hand, publish, running_job
from tests.server.test_ws import WAIT, connect, recv, send

SOCKETS = 6
JOBS = 3
STEPS = 12


async def blocked_readers(stores) -> int:
    """Clients blocked in XREAD on the Redis server (the worker's XREADGROUP is another command)."""
    return sum(1 for c in await stores.redis.client_list() if c.get("cmd") == "xread" and "b" in c.get("flags", ""))


async def until(check, what: str, timeout: float = WAIT):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def messages_until_final(ws, video_ids: set[str]) -> dict[str, list[dict]]:
    """JSON messages per video until each has had its final ``video``; preview frames are kept as (video, step)."""
    got: dict[str, list] = {vid: [] for vid in video_ids}
    ended: set[str] = set()
    while ended != video_ids:
        raw = await asyncio.wait_for(ws.recv(), WAIT)
        if isinstance(raw, bytes):
            _, _, vid, step, _, _ = parse_by_hand(raw)
            got[vid].append({"type": "frame", "step": step})
            continue
        msg = json.loads(raw)
        assert msg["type"] != "error", msg
        vid = msg["data"].get("video_id") or msg["data"].get("id")
        got[vid].append(msg)
        if msg["type"] == "video" and msg["data"]["status"] in jobs.TERMINAL:
            ended.add(vid)
    return got


async def test_many_subscriptions_hold_one_reader_and_all_get_every_event(api, http, stores):
    me = await signup(http)
    made = [await running_job(stores, me, steps=STEPS) for _ in range(JOBS)]
    ids = {job.id for job in made}
    baseline = await blocked_readers(stores)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(connect(api, me)) for _ in range(SOCKETS)]
        for ws in sockets:
            for job in made:
                await send(ws, "subscribe", {"video_id": job.id, "previews": True}, job.id)
                assert (await recv(ws))["type"] == "subscribed"
                first = await recv(ws)
                assert first["type"] == "video" and first["data"]["status"] == "queued"
        # one blocked read, however many subscriptions (it was one per subscription and per preview relay);
        # the api may have been reading already for an earlier test's socket, so its one reader may be in the baseline
        await until(lambda: _at_least(stores, max(baseline, 1)), "the reader to block")
        for _ in range(10):
            assert await blocked_readers(stores) in (baseline, baseline + 1)
            await asyncio.sleep(0.05)

        for job in made:
            await events.publish(stores, JobEvent(type="status", video_id=job.id, status="in_progress", progress=0))
        for step in range(1, STEPS + 1):
            for job in made:
                await events.publish(
                    stores,
                    JobEvent(type="progress", video_id=job.id, status="in_progress", progress=step * 100 // STEPS, step=step, steps=STEPS),
                )
                await publish(stores, job, step)
        for job in made:
            await stores.db["videos"].update_one(
                {"_id": job.id}, {"$set": {"status": "completed", "progress": 100, "completed_at": utcnow()}}
            )
            await events.publish(stores, JobEvent(type="status", video_id=job.id, status="completed", progress=100))

        for ws in sockets:
            got = await messages_until_final(ws, ids)
            # previews are another stream: the newest may come after the final video
            while any(_last_frame(got[vid]) != STEPS for vid in ids):
                _, _, vid, step, _, _ = parse_by_hand(await asyncio.wait_for(_next_frame(ws), WAIT))
                got[vid].append({"type": "frame", "step": step})
            for vid, messages in got.items():
                json_messages = [m for m in messages if m["type"] != "frame"]
                statuses = [m["data"] for m in json_messages if m["type"] == "status"]
                # the status message carries what WEBSOCKET.md lists: no type inside, progress always
                assert statuses == [
                    {"video_id": vid, "status": "in_progress", "progress": 0},
                    {"video_id": vid, "status": "completed", "progress": 100},
                ], statuses
                steps = [m["data"]["step"] for m in json_messages if m["type"] == "progress"]
                assert steps == list(range(1, STEPS + 1)), steps
                progress = next(m["data"] for m in json_messages if m["type"] == "progress")
                assert set(progress) == {"video_id", "status", "progress", "step", "steps", "value", "max", "prompt_id"}
                assert json_messages[-1]["type"] == "video" and json_messages[-1]["data"]["status"] == "completed"
                frames = [m["step"] for m in messages if m["type"] == "frame"]
                assert frames == sorted(frames) and frames and frames[-1] == STEPS
    # every subscription ended: the reader blocks no more
    await until(lambda: _at_most(stores, baseline), "the reader to stop")


def _last_frame(messages: list[dict]) -> int | None:
    frames = [m["step"] for m in messages if m["type"] == "frame"]
    return frames[-1] if frames else None


async def _next_frame(ws) -> bytes:
    while True:
        raw = await ws.recv()
        if isinstance(raw, bytes):
            return raw
        assert json.loads(raw)["type"] != "error", raw


async def _at_least(stores, n: int) -> bool:
    return await blocked_readers(stores) >= n


async def _at_most(stores, n: int) -> bool:
    return await blocked_readers(stores) <= n


async def test_a_late_subscriber_gets_the_events_so_far(api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me, steps=4)
    async with connect(api, me) as early:
        await send(early, "subscribe", {"video_id": job.id})
        assert (await recv(early))["type"] == "subscribed" and (await recv(early))["type"] == "video"
        for step in (1, 2):
            await events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", progress=step * 25, step=step, steps=4))
        assert [(await recv(early))["data"]["step"] for _ in range(2)] == [1, 2]
        async with connect(api, me) as late:  # joins the topic the early one made: its history comes from memory
            await send(late, "subscribe", {"video_id": job.id})
            assert (await recv(late))["type"] == "subscribed" and (await recv(late))["type"] == "video"
            assert [(await recv(late))["data"]["step"] for _ in range(2)] == [1, 2]
            await events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", progress=75, step=3, steps=4))
            for ws in (early, late):
                assert (await recv(ws))["data"]["step"] == 3
    await jobs.delete_job(stores, job.id)


async def test_a_socket_follows_at_most_the_subscription_limit(api, http, stores, settings):
    me = await signup(http)
    limit = settings.ws_max_subscriptions
    made = [await running_job(stores, me) for _ in range(limit + 1)]
    async with connect(api, me) as ws:
        for job in made[:limit]:
            await send(ws, "subscribe", {"video_id": job.id}, "s")
            assert (await recv(ws))["type"] == "subscribed"
            assert (await recv(ws))["type"] == "video"
        await send(ws, "subscribe", {"video_id": made[0].id}, "again")  # the same one again is no new subscription
        assert (await recv(ws))["type"] == "subscribed"
        await send(ws, "subscribe", {"video_id": made[-1].id}, "over")
        msg = await recv(ws)
        assert msg["type"] == "error" and msg["data"]["code"] == "too_many_subscriptions" and msg["id"] == "over", msg
        await send(ws, "unsubscribe", {"video_id": made[1].id}, "u")
        assert (await recv(ws))["type"] == "unsubscribed"
        await send(ws, "subscribe", {"video_id": made[-1].id}, "now")
        assert (await recv(ws))["type"] == "subscribed"
    for job in made:
        await jobs.delete_job(stores, job.id)
