"""Live previews over WebRTC: an aiortc client peer (``fabula_client.rtc``)
against an api of its own that offers loopback candidates only
(``rtc_host_addresses = 127.0.0.1``, the setting a machine with no other
interface, or a test, uses), with its own namespace so that only the worker
this module starts runs its jobs.

- a real tiny job: the peer connects while the job waits in the queue, the
  worker starts, the track shows the job's previews, then its finished clip,
  then ends;
- previews published by hand (as the worker does) show as frames of their
  colour, signalled over the WebSocket; a cancelled job's track ends;
- another user's job, a bad SDP, an offer without video: refused;
- caps per user, and peers closed with the socket that asked for them (and
  by no other socket);
- ids in the rtc messages are bounded and never echoed when too long."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import time
import uuid

import httpx
import msgspec
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from PIL import Image

from clients.fabula_client import FabulaAPIError, FabulaClient
from clients.fabula_client.rtc import open_rtc_preview
from core.stores import open_stores
from gen import jobs, previews
from gen.cancel import cancel_job
from tests.procs import start_api, start_worker

WAIT = 60.0


@pytest.fixture(scope="module")
def rtc_settings(settings):
    return msgspec.structs.replace(
        settings,
        namespace="rtc" + uuid.uuid4().hex[:8],
        rtc_host_addresses="127.0.0.1",
        rtc_max_peers_per_user=2,
        rtc_connect_timeout_s=5.0,
    )


@pytest.fixture(scope="module")
def rtc_api(rtc_settings, tmp_root):
    proc = start_api(rtc_settings, tmp_root / "logs-rtc")
    yield proc
    proc.stop()


@pytest.fixture
async def rtc_stores(rtc_settings):
    s = open_stores(rtc_settings)
    yield s
    await s.close()


@contextlib.asynccontextmanager
async def user(api):
    async with FabulaClient(api.url) as client:
        await client.signup("r" + uuid.uuid4().hex[:12], "correct horse battery", "1990-01-01")
        yield client


def jpeg(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, format="JPEG", quality=95)
    return out.getvalue()


async def queued_job(stores, client: FabulaClient, steps: int = 8) -> jobs.Job:
    """A job in the database that no worker runs (nothing enqueues it)."""
    me = await client.me()
    return await jobs.create_job(stores, owner_id=me["id"], prompt="a lantern", model="tiny", width=64, height=64, seconds=1, steps=steps)


async def publish(stores, job: jobs.Job, step: int, rgb: tuple[int, int, int]) -> None:
    image = jpeg(rgb)
    await previews.publish(stores, previews.Preview(video_id=job.id, step=step, steps=job.steps, progress=step * 10, image=image))


def mean_rgb(frame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)


async def next_frame(preview, timeout: float = WAIT):
    return await asyncio.wait_for(preview.track.recv(), timeout)


async def frame_of_colour(preview, rgb, timeout: float = WAIT):
    """The first frame whose mean colour is ``rgb`` (within VP8's error)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await next_frame(preview, max(0.1, deadline - time.monotonic()))
        if np.abs(mean_rgb(frame) - np.array(rgb)).max() < 20:
            return frame


async def ended(preview, timeout: float = WAIT) -> list:
    """The frames still to come, once the track has ended."""
    frames = []

    async def drain():
        async for frame in preview.frames():
            frames.append(frame)

    await asyncio.wait_for(drain(), timeout)
    return frames


def candidates(sdp: str) -> list[str]:
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]


async def test_a_tiny_jobs_previews_then_its_clip_then_the_end(rtc_api, rtc_settings, tmp_root):
    async with user(rtc_api) as alice:
        video = await alice.create_video("a paper boat drifting on a pond", seconds=1, size="64x64", steps=12)
        async with await open_rtc_preview(alice, video["id"], host_addresses=["127.0.0.1"], timeout=WAIT) as preview:
            assert set(candidates(preview.answer["sdp"])) == {"127.0.0.1"}  # the setting, not the machine's interfaces
            assert preview.answer["type"] == "answer" and preview.answer["peer_id"].startswith("rtc_")
            worker = start_worker(rtc_settings, tmp_root / "logs-rtc", name="rtc-worker")
            try:
                sizes = [(f.width, f.height) async for f in _until_end(preview)]
            finally:
                worker.stop()
        final = await alice.video(video["id"])
        assert final["status"] == "completed", final
        newest = await alice.preview(video["id"])
        preview_size = Image.open(io.BytesIO(newest.image)).size
        preview_size = (preview_size[0] - preview_size[0] % 2, preview_size[1] - preview_size[1] % 2)
        assert preview_size != (64, 64), "the preview strip and the clip must differ in size for this test to tell them apart"
        assert preview_size in sizes, f"no preview frame among {sorted(set(sizes))}"
        first_clip = sizes.index((64, 64))
        assert first_clip > sizes.index(preview_size)  # previews first, then the clip
        assert set(sizes[first_clip:]) == {(64, 64)}  # nothing but the clip once it plays
        assert len(sizes) - first_clip >= 5  # the clip is 9 frames at 8 fps (a frame may be superseded)


async def _until_end(preview, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    frames = preview.frames()
    while True:
        try:
            frame = await asyncio.wait_for(frames.__anext__(), max(0.1, deadline - time.monotonic()))
        except StopAsyncIteration:
            return
        yield frame


async def test_previews_over_a_socket_signalled_peer_and_a_cancelled_jobs_end(rtc_api, rtc_stores):
    async with user(rtc_api) as alice, alice.socket() as ws:
        job = await queued_job(rtc_stores, alice)
        await publish(rtc_stores, job, 1, (200, 30, 30))
        preview = await open_rtc_preview(alice, job.id, signal=lambda sdp: ws.preview_rtc(job.id, sdp), timeout=WAIT)
        try:
            assert preview.answer["video_id"] == job.id
            await frame_of_colour(preview, (200, 30, 30))  # the newest preview at once
            await publish(rtc_stores, job, 2, (30, 30, 200))
            await frame_of_colour(preview, (30, 30, 200))  # then each new one
            assert await cancel_job(rtc_stores, job.id)
            rest = await ended(preview)  # a failed job has no clip: the track just ends
            assert all(np.abs(mean_rgb(f) - np.array((30, 30, 200))).max() < 20 for f in rest)
        finally:
            await preview.close()
        # a failed job has nothing to show
        with pytest.raises(FabulaAPIError) as refused:
            await ws.preview_rtc(job.id, "v=0")
        assert refused.value.code == "video_finished"


async def test_another_users_job_is_refused(rtc_api, rtc_stores):
    async with user(rtc_api) as alice, user(rtc_api) as bob:
        job = await queued_job(rtc_stores, alice)
        offer = await _offer()
        with pytest.raises(FabulaAPIError) as http_refusal:
            await bob.preview_rtc(job.id, offer)
        assert (http_refusal.value.status, http_refusal.value.code) == (404, "video_not_found")
        async with bob.socket() as ws:
            with pytest.raises(FabulaAPIError) as ws_refusal:
                await ws.preview_rtc(job.id, offer)
            assert ws_refusal.value.code == "video_not_found"
        with pytest.raises(FabulaAPIError) as missing:
            await alice.preview_rtc("video_nothere", offer)
        assert missing.value.status == 404


async def _offer(kind: str = "video", direction: str = "recvonly") -> str:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver(kind, direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


async def test_a_bad_offer_is_a_400(rtc_api, rtc_stores):
    async with user(rtc_api) as alice:
        job = await queued_job(rtc_stores, alice)
        url = f"{rtc_api.url}/v1/videos/{job.id}/preview/rtc"
        headers = {"Authorization": f"Bearer {alice.token}"}
        async with httpx.AsyncClient(timeout=WAIT) as http:
            for body, code in [
                ({"sdp": "this is not SDP", "type": "offer"}, "invalid_sdp"),
                ({"sdp": "", "type": "offer"}, "invalid_sdp"),
                ({"sdp": await _offer(), "type": "answer"}, "invalid_sdp"),
                ({"sdp": await _offer("audio"), "type": "offer"}, "invalid_sdp"),  # nothing to receive video on
                ({"sdp": await _offer("video", "sendonly"), "type": "offer"}, "invalid_sdp"),  # a video section that only sends
                ({"sdp": await _offer("video", "inactive"), "type": "offer"}, "invalid_sdp"),
                ({"type": "offer"}, None),  # no sdp at all
            ]:
                r = await http.post(url, json=body, headers=headers)
                assert r.status_code == 400, (body, r.text)
                if code is not None:
                    assert r.json()["error"]["code"] == code, r.text
            r = await http.post(url, content=b"{not json", headers={**headers, "Content-Type": "application/json"})
            assert r.status_code == 400
        async with alice.socket() as ws:
            with pytest.raises(FabulaAPIError) as refused:
                await ws.request("preview.rtc", {"video_id": job.id, "sdp": "nonsense"})
            assert refused.value.code == "invalid_sdp"
            with pytest.raises(FabulaAPIError) as malformed:
                await ws.request("preview.rtc", {"video_id": job.id})
            assert malformed.value.code == "invalid_message"
            with pytest.raises(FabulaAPIError) as sending:
                await ws.request("preview.rtc", {"video_id": job.id, "sdp": await _offer("video", "sendonly"), "type": "offer"})
            assert sending.value.code == "invalid_sdp" and "receives" in sending.value.message
        # a refused offer holds no peer: the user's whole allowance is still there
        offers = [await _offer() for _ in range(2)]
        for offer in offers:
            await alice.preview_rtc(job.id, offer)  # never connected: closed after rtc_connect_timeout_s


async def test_peers_per_user_are_capped_and_close_with_their_socket(rtc_api, rtc_stores):
    async with user(rtc_api) as alice:
        job = await queued_job(rtc_stores, alice)
        await publish(rtc_stores, job, 1, (20, 180, 20))
        async with alice.socket() as ws:
            held = []
            for _ in range(2):  # rtc_max_peers_per_user
                held.append(await open_rtc_preview(alice, job.id, signal=lambda sdp: ws.preview_rtc(job.id, sdp), timeout=WAIT))
            with pytest.raises(FabulaAPIError) as capped:
                await ws.preview_rtc(job.id, await _offer())
            assert capped.value.code == "too_many_peers"
            with pytest.raises(FabulaAPIError) as capped_http:
                await alice.preview_rtc(job.id, await _offer())
            assert (capped_http.value.status, capped_http.value.code) == (429, "too_many_peers")
            closed = await ws.close_rtc(held[0].peer_id)
            assert closed == {"peer_id": held[0].peer_id}
            await ended(held[0])  # the server closed it: the track ends for the client
        await ended(held[1])  # the socket closed: so did its peer
        for preview in held:
            await preview.close()
        # the allowance is back: a new peer connects and shows the newest preview
        async with await open_rtc_preview(alice, job.id, timeout=WAIT) as again:
            await frame_of_colour(again, (20, 180, 20))
        await cancel_job(rtc_stores, job.id)


async def test_a_peer_is_closed_only_by_the_connection_that_asked_for_it(rtc_api, rtc_stores):
    """``preview.rtc.close`` with another user's peer id, or from another
    socket of the same user, is ``peer_not_found`` and leaves the peer playing."""
    async with user(rtc_api) as alice, user(rtc_api) as bob:
        job = await queued_job(rtc_stores, alice)
        await publish(rtc_stores, job, 1, (200, 120, 20))
        async with alice.socket() as asked, alice.socket() as elsewhere, bob.socket() as stranger:
            preview = await open_rtc_preview(alice, job.id, signal=lambda sdp: asked.preview_rtc(job.id, sdp), timeout=WAIT)
            try:
                await frame_of_colour(preview, (200, 120, 20))
                for ws in (stranger, elsewhere):
                    with pytest.raises(FabulaAPIError) as refused:
                        await ws.close_rtc(preview.peer_id)
                    assert refused.value.code == "peer_not_found"
                # still open and still sending: a new preview shows on it
                await publish(rtc_stores, job, 2, (20, 120, 200))
                await frame_of_colour(preview, (20, 120, 200))
                # and the socket that asked for it still holds it, so it alone can close it
                assert await asked.close_rtc(preview.peer_id) == {"peer_id": preview.peer_id}
                await ended(preview)
            finally:
                await preview.close()
        await cancel_job(rtc_stores, job.id)


async def test_rtc_ids_are_bounded_and_never_echoed(rtc_api, rtc_stores):
    """``video_id`` and ``peer_id`` over 64 characters are ``invalid_message``
    (with the message's id, without the value); 64 is still a message."""
    async with user(rtc_api) as alice, alice.socket() as ws:
        offer = await _offer()
        for type_, field, extra, served in [
            ("preview.rtc", "video_id", {"sdp": offer, "type": "offer"}, "video_not_found"),
            ("preview.rtc.close", "peer_id", {}, "peer_not_found"),
        ]:
            for n in (65, 60_000):
                value = "q" * n
                with pytest.raises(FabulaAPIError) as refused:  # the SDK matches the error to its request by id
                    await ws.request(type_, {field: value, **extra})
                assert refused.value.code == "invalid_message", (type_, n)
                assert value not in refused.value.message and len(refused.value.message) < 300, refused.value.message[:300]
            with pytest.raises(FabulaAPIError) as answered:  # at the limit: read, and answered by the handler
                await ws.request(type_, {field: "q" * 64, **extra})
            assert answered.value.code == served, type_


async def test_another_replica_serves_the_track_and_ends_it_at_shutdown(rtc_api, rtc_settings, rtc_stores, tmp_root):
    """A second api process (the job's previews reach it through Redis) closes
    its peers when it stops: the client's track ends at once, not after ICE
    gives up."""
    second = start_api(rtc_settings, tmp_root / "logs-rtc")
    try:
        async with user(rtc_api) as alice, FabulaClient(second.url, alice.token) as there:
            job = await queued_job(rtc_stores, alice)
            preview = await open_rtc_preview(there, job.id, timeout=WAIT)
            try:
                await publish(rtc_stores, job, 1, (220, 220, 40))
                await frame_of_colour(preview, (220, 220, 40))
                stopping = asyncio.get_running_loop().run_in_executor(None, second.stop)
                await ended(preview, timeout=10.0)
                await stopping
                closed = [json.loads(line) for line in second.log().splitlines() if '"rtc peer closed"' in line]
                assert [(c["peer"], c["reason"]) for c in closed] == [(preview.peer_id, "shutdown")], second.log()[-3000:]
            finally:
                await preview.close()
            await cancel_job(rtc_stores, job.id)
    finally:
        second.stop()


async def test_a_refused_offer_raises_and_leaves_no_unread_error(rtc_api):
    """The client's ``open_rtc_preview`` on a video it may not watch raises the
    API's error, and closing its peer leaves no future whose error nobody read
    (asyncio would log "Future exception was never retrieved")."""
    loop = asyncio.get_running_loop()
    unread: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    try:
        async with user(rtc_api) as alice, user(rtc_api) as bob:
            video = await alice.create_video("a paper boat", seconds=1, size="64x64", steps=2)
            for video_id in (video["id"], "video_01jzzzzzzzzzzzzzzzzzzzzzzz"):
                with pytest.raises(FabulaAPIError) as refused:
                    await open_rtc_preview(bob, video_id, host_addresses=["127.0.0.1"], timeout=WAIT)
                assert refused.value.status == 404 and refused.value.code == "video_not_found"
            gc.collect()
            await asyncio.sleep(0.2)
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in unread] == [], unread
