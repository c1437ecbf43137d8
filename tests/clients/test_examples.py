"""The example bots in ``clients/examples`` run against the test api (and
its worker) for a bounded time, as a person runs them against ``make run``:
``python clients/examples/<bot>.py URL …``, finding ``fabula_client`` in the
checkout."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from clients.fabula_client import FabulaClient

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "clients" / "examples"
PASSWORD = "correct horse battery"


def run_example(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # found through the checkout, not the test's path
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd="/")


@pytest.fixture(scope="module")
def poster(api):
    handle = "poster" + uuid.uuid4().hex[:8]

    async def make() -> None:
        async with FabulaClient(api.url) as client:
            await client.signup(handle, PASSWORD, "1990-01-01")

    asyncio.run(make())
    return handle


def test_the_scheduled_poster_makes_and_posts_videos(api, worker, poster):
    done = run_example(
        "post_on_schedule.py", api.url, "--handle", poster, "--password", PASSWORD,
        "--count", "2", "--every", "1", "--seconds", "1", "--size", "64x64",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    posted = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("posted ")]
    assert len(posted) == 2 and all(p.startswith("post_") for p in posted), done.stdout

    async def check() -> list[str]:
        async with FabulaClient(api.url) as client:
            await client.login(poster, PASSWORD)
            return [p["id"] async for p in client.pages(client.user_posts, poster)]

    assert sorted(asyncio.run(check())) == sorted(posted)


def test_the_swiping_bot_likes_over_the_websocket(api, worker, poster):
    handle = "swiper" + uuid.uuid4().hex[:8]

    async def follow_the_poster() -> None:
        async with FabulaClient(api.url) as client:
            await client.signup(handle, PASSWORD, "1990-01-01")
            await client.follow(poster)

    asyncio.run(follow_the_poster())
    done = run_example(
        "swipe_and_like.py", api.url, "--handle", handle, "--password", PASSWORD,
        "--following", "--like-every", "1", "--items", "2", "--duration", "60", "--watch-ms", "3000",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    liked = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("liked ")]
    assert liked, done.stdout

    async def likes() -> dict[str, int]:
        async with FabulaClient(api.url) as client:
            await client.login(handle, PASSWORD)
            return {p: (await client.post(p))["counts"]["likes"] for p in liked}

    assert all(n >= 1 for n in asyncio.run(likes()).values())
    assert "done: 2 items, 2 liked" in done.stdout


def test_the_rtc_watcher_saves_preview_frames(api, worker, tmp_path):
    out = tmp_path / "frames"
    done = run_example(
        "watch_preview_rtc.py", api.url, "--out", str(out), "--prompt", "a kite over a beach",
        "--seconds", "1", "--size", "64x64", "--steps", "12", "--duration", "240", "--loopback",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    frames = sorted(out.glob("*.png"))
    assert frames and f"saved {len(frames)} frames" in done.stdout
    assert frames[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
