"""Live previews on the WebSocket and over HTTP: the binary frame layout, a
late joiner getting the newest frame first, relay across two api processes
(through Redis), and back-pressure (a client that stops reading gets
superseded previews dropped, keeps its connection, and then the newest).

Previews are published here the way the worker publishes them
(``gen.previews.publish``), so no pipeline needs to run."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import socket
import struct
from urllib.parse import urlparse

import httpx
import pytest
import websockets
from PIL import Image

from core.messages import JobEvent
from gen import events, jobs, previews
from server.ws.previews import EVENT_PREVIEW, FORMATS, decode_frame
from tests.conftest import signup
from tests.procs import start_api
from tests.server.test_ws import WAIT, send, ws_url

FORMAT_JPEG = 1


def jpeg(shade: int, size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (shade, 255 - shade, 80)).save(out, format="JPEG")
    return out.getvalue()


async def running_job(stores, user: dict, steps: int = 8) -> jobs.Job:
    """A job in the database that no worker runs (nothing enqueues it)."""
    return await jobs.create_job(
        stores, owner_id=user["user"]["id"], prompt="a lantern", model="tiny", width=64, height=64, seconds=1, steps=steps
    )


async def publish(stores, job: jobs.Job, step: int, image: bytes | None = None) -> bytes:
    image = image if image is not None else jpeg(step * 20 % 256)
    await previews.publish(
        stores, previews.Preview(video_id=job.id, step=step, steps=job.steps, progress=step * 100 // job.steps, image=image)
    )
    return image


@contextlib.asynccontextmanager
async def connect(url: str, user: dict, **kwargs):
    async with websockets.connect(url, additional_headers=user["headers"], open_timeout=WAIT, **kwargs) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert hello["type"] == "hello"
        yield ws


async def next_frame(ws, *, skip_json: bool = True) -> bytes:
    """The next binary frame (JSON messages before it are skipped)."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), WAIT)
        if isinstance(raw, bytes):
            return raw
        msg = json.loads(raw)
        assert msg["type"] != "error", msg
        if not skip_json:
            raise AssertionError(f"expected a binary frame, got {msg}")


async def next_json(ws, type_: str) -> dict:
    """The next JSON message of ``type_`` (binary frames and other messages before it are skipped)."""
    while True:
        raw = await asyncio.wait_for(ws.recv(), WAIT)
        if isinstance(raw, bytes):
            continue
        msg = json.loads(raw)
        assert msg["type"] != "error", msg
        if msg["type"] == type_:
            return msg


async def subscribe(ws, video_id: str, *, with_previews: bool = True, tag: str = "s") -> None:
    await send(ws, "subscribe", {"video_id": video_id, "previews": with_previews}, tag)
    msg = await next_json(ws, "subscribed")
    assert msg["id"] == tag and msg["data"]["video_id"] == video_id


def parse_by_hand(frame: bytes) -> tuple[int, int, str, int, int, bytes]:
    """The documented layout, read without the server's own decoder."""
    event, fmt = struct.unpack(">II", frame[:8])
    n = frame[8]
    video_id = frame[9 : 9 + n].decode("ascii")
    step, steps = struct.unpack(">II", frame[9 + n : 17 + n])
    return event, fmt, video_id, step, steps, frame[17 + n :]


async def test_late_joiner_gets_the_newest_frame_then_each_new_one(api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me)
    for step in (1, 2):
        await publish(stores, job, step)
    third = await publish(stores, job, 3)
    async with connect(ws_url(api), me) as ws:
        await subscribe(ws, job.id)
        frame = await next_frame(ws)
        assert parse_by_hand(frame) == (EVENT_PREVIEW, FORMAT_JPEG, job.id, 3, 8, third)
        assert FORMATS["image/jpeg"] == FORMAT_JPEG == 1
        parsed = decode_frame(frame)
        assert (parsed.video_id, parsed.step, parsed.steps, parsed.image, parsed.content_type) == (job.id, 3, 8, third, "image/jpeg")
        assert Image.open(io.BytesIO(parsed.image)).format == "JPEG"

        fourth = await publish(stores, job, 4)
        assert parse_by_hand(await next_frame(ws))[3:] == (4, 8, fourth)

        # progress events keep Fabula's fields and carry ComfyUI's names too
        await events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", progress=50, step=4, steps=8))
        progress = await next_json(ws, "progress")
        assert progress["data"] == {
            "video_id": job.id, "status": "in_progress", "progress": 50, "step": 4, "steps": 8,
            "value": 4, "max": 8, "prompt_id": job.id,
        }

        await send(ws, "unsubscribe", {"video_id": job.id}, "u")
        done = await next_json(ws, "unsubscribed")
        assert done["data"]["video_id"] == job.id and done["data"]["previews"]["sent"] == 2
        await publish(stores, job, 5)
        await send(ws, "ping", {}, "p")
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT)) == {"type": "pong", "data": {}, "id": "p"}  # no frame after unsubscribe
    await jobs.delete_job(stores, job.id)


async def test_previews_only_when_asked_for(api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me)
    await publish(stores, job, 1)
    async with connect(ws_url(api), me) as ws:
        await subscribe(ws, job.id, with_previews=False)
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "video"
        await publish(stores, job, 2)
        await send(ws, "ping", {}, "p")
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT)) == {"type": "pong", "data": {}, "id": "p"}
    await jobs.delete_job(stores, job.id)


async def test_subscribing_again_without_previews_stops_them_and_keeps_the_job(api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me)
    await publish(stores, job, 1)
    async with connect(ws_url(api), me) as ws:
        await subscribe(ws, job.id)
        assert parse_by_hand(await next_frame(ws))[3] == 1
        await send(ws, "subscribe", {"video_id": job.id, "previews": False}, "again")
        again = await next_json(ws, "subscribed")
        assert again["id"] == "again" and "previews" not in again["data"]
        await publish(stores, job, 2)
        await events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", progress=25, step=2, steps=8))
        # the job's messages go on; no frame comes before them
        while True:
            raw = await asyncio.wait_for(ws.recv(), WAIT)
            assert not isinstance(raw, bytes), "a preview frame came after previews were turned off"
            if json.loads(raw)["type"] == "progress":
                break
        await subscribe(ws, job.id, tag="on again")  # previews back on: the newest first
        assert parse_by_hand(await next_frame(ws))[3] == 2
        await send(ws, "unsubscribe", {"video_id": job.id}, "u")
        assert (await next_json(ws, "unsubscribed"))["data"]["previews"]["sent"] == 1  # counted since they were last turned on
    await jobs.delete_job(stores, job.id)


async def test_subscription_before_the_first_preview_gets_it_when_it_comes(api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me)
    async with connect(ws_url(api), me) as ws:
        await subscribe(ws, job.id)
        assert (await next_json(ws, "video"))["data"]["status"] == "queued"
        first = await publish(stores, job, 1)
        assert parse_by_hand(await next_frame(ws))[2:] == (job.id, 1, 8, first)
    await jobs.delete_job(stores, job.id)


async def test_previews_of_foreign_videos_are_refused(api, http, stores):
    me, other = await signup(http), await signup(http)
    job = await running_job(stores, other)
    await publish(stores, job, 1)
    async with connect(ws_url(api), me) as ws:
        await send(ws, "subscribe", {"video_id": job.id, "previews": True}, "x")
        msg = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert msg["type"] == "error" and msg["data"]["code"] == "video_not_found" and msg["id"] == "x"
        await send(ws, "subscribe", {"video_id": job.id, "previews": "yes"}, "y")
        msg = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert msg["type"] == "error" and msg["data"]["code"] == "invalid_message" and msg["id"] == "y"
        await send(ws, "ping", {}, "p")
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "pong"
    await jobs.delete_job(stores, job.id)


# --- two api processes --------------------------------------------------------------


@pytest.fixture(scope="module")
def second_api(settings, tmp_root, api):
    proc = start_api(settings, tmp_root / "logs")
    yield proc
    proc.stop()


async def test_two_api_replicas_relay_the_same_job(api, second_api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me)
    await publish(stores, job, 1)
    async with connect(ws_url(api), me) as one, connect(ws_url(second_api), me) as two:
        for ws in (one, two):
            await subscribe(ws, job.id)
            assert parse_by_hand(await next_frame(ws))[3] == 1  # the late joiner's frame, on each replica
        for step in (2, 3, 4):
            image = await publish(stores, job, step)
            got = await asyncio.gather(next_frame(one), next_frame(two))
            assert [parse_by_hand(f)[2:] for f in got] == [(job.id, step, 8, image)] * 2
    async with httpx.AsyncClient(base_url=second_api.url, timeout=30) as other_http:
        r = await other_http.get(f"/v1/videos/{job.id}/preview", headers=me["headers"])
        assert r.status_code == 200 and r.headers["x-preview-step"] == "4" and r.headers["x-preview-steps"] == "8"
    await jobs.delete_job(stores, job.id)


# --- back-pressure --------------------------------------------------------------------


async def small_buffer_socket(url: str) -> socket.socket:
    """A connected TCP socket with a small, fixed receive buffer: Linux would
    otherwise grow it (tcp_rmem, up to tens of MB) and hold many frames for a
    client that does not read."""
    where = urlparse(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (where.hostname, where.port))
    return sock


async def test_a_client_that_stops_reading_gets_previews_dropped_not_cut_off(api, http, stores):
    me = await signup(http)
    job = await running_job(stores, me, steps=1000)
    published = 160
    # the server relays the bytes as they are; large frames fill socket buffers
    # fast (random ones, since the connection may be compressed)
    big = os.urandom(256 * 1024)
    url = ws_url(api)
    # max_queue=1: the client library itself buffers next to nothing while the test does not read
    async with connect(url, me, sock=await small_buffer_socket(url), max_queue=1, max_size=2**22) as ws:
        await subscribe(ws, job.id)
        for step in range(1, published + 1):
            await publish(stores, job, step, big[:-4] + step.to_bytes(4, "big"))
            await asyncio.sleep(0.01)  # a worker's pace, roughly: the relay sees (nearly) every step
        # now read: the newest step arrives, after at most what the buffers held
        received: list[int] = []
        while not received or received[-1] != published:
            event, fmt, vid, step, steps, image = parse_by_hand(await next_frame(ws))
            assert (event, fmt, vid, steps) == (EVENT_PREVIEW, FORMAT_JPEG, job.id, 1000)
            assert int.from_bytes(image[-4:], "big") == step and len(image) == len(big)
            received.append(step)
        assert received == sorted(received)  # never out of order
        assert len(received) < published // 2, f"{len(received)} of {published} frames were queued for a client that did not read"

        await send(ws, "unsubscribe", {"video_id": job.id}, "u")
        stats = (await next_json(ws, "unsubscribed"))["data"]["previews"]
        assert stats["sent"] == len(received)  # every frame queued was delivered; the rest were dropped
        assert stats["dropped"] > 0 and stats["sent"] + stats["dropped"] <= published
        await send(ws, "ping", {}, "alive")
        assert (await next_json(ws, "pong"))["id"] == "alive"  # the connection survived
    await jobs.delete_job(stores, job.id)
