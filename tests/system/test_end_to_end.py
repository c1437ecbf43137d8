"""One video's whole way, through the Python client against a running api,
embedded Valkey, nx-27017 and a worker process."""

from __future__ import annotations

import asyncio
import uuid

from clients.sdk import FabulaClient
from tests.media_checks import probe_mp4

TINY_FPS = 8  # the tiny preset plays at 8 fps and LTX makes 8k+1 frames


async def test_signup_follow_create_watch_download_publish_feed(api, worker):
    pw = "a long enough password"
    handle_a, handle_b = "a" + uuid.uuid4().hex[:10], "b" + uuid.uuid4().hex[:10]
    async with FabulaClient(api.url) as alice, FabulaClient(api.url) as bob:
        await alice.signup(handle_a, pw, "1990-01-01")
        await bob.signup(handle_b, pw, "1990-01-01")
        await bob.follow(handle_a)

        seconds, size = 1, "64x96"
        video = await alice.create_video("a paper boat drifting on a pond", seconds=seconds, size=size)
        assert video["object"] == "video" and video["status"] == "queued"
        assert video["size"] == size and video["seconds"] == str(seconds)

        async def watch() -> list[dict]:
            return [msg async for msg in alice.watch_video(video["id"])]

        messages = await asyncio.wait_for(watch(), timeout=240)
        progress = [m["data"] for m in messages if m["type"] == "progress"]
        assert progress, f"no progress events among {[m['type'] for m in messages]}"
        steps = [p["step"] for p in progress]
        assert steps == sorted(steps) and steps[-1] == progress[-1]["steps"]
        assert all(0 <= p["progress"] < 100 for p in progress)
        final = messages[-1]["data"]
        assert final["status"] == "completed", final
        assert final["progress"] == 100

        got = await alice.video(video["id"])
        assert got["status"] == "completed" and got["completed_at"] >= got["created_at"]

        mp4 = await alice.download(video["id"])
        info = probe_mp4(mp4)
        assert info["codec"] == "h264"
        assert (info["width"], info["height"]) == (64, 96)
        assert info["frames"] == seconds * TINY_FPS + 1 == got["frames"]
        assert info["audio_streams"] == 1  # every finished video has sound

        thumb = await alice.download(video["id"], variant="thumbnail")
        assert thumb[:3] == b"\xff\xd8\xff"  # JPEG

        post = await alice.publish(video["id"], caption="boat day")
        assert post["author"]["handle"] == handle_a and post["video_id"] == video["id"]

        feed = await bob.feed("following")
        assert [p["id"] for p in feed["data"]][:1] == [post["id"]]
        assert feed["data"][0]["caption"] == "boat day"
