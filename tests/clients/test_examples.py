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


def test_the_bots_end_on_an_error_with_one_line(api, tmp_path):
    """A setting every prompt would fail on (a size the server refuses) ends
    the poster instead of looping; a handle without its password and a
    server that is down end a bot with one line, no traceback."""
    bad_size = run_example("post_on_schedule.py", api.url, "--count", "1", "--every", "0", "--size", "13x13", timeout=120)
    assert bad_size.returncode == 1 and "Traceback" not in bad_size.stderr, bad_size.stdout + bad_size.stderr
    assert "error:" in bad_size.stderr and "invalid_size" in bad_size.stderr and "refused" not in bad_size.stdout
    half = run_example("swipe_and_like.py", api.url, "--handle", "someone", timeout=60)
    assert half.returncode != 0 and "--password" in half.stderr and "Traceback" not in half.stderr, half.stderr
    down = run_example("swipe_and_like.py", "http://127.0.0.1:9", timeout=60)
    assert down.returncode == 1 and "cannot reach the api" in down.stderr and "Traceback" not in down.stderr, down.stderr


def test_the_poster_gives_up_on_one_video_and_goes_on(api):
    """``--timeout`` gives up on that video (and cancels it), and the bot goes on
    to the next prompt rather than ending: stopped from outside after two."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    args = [sys.executable, str(EXAMPLES / "post_on_schedule.py"), api.url, "--every", "0", "--size", "64x64", "--timeout", "0.01"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd="/")
    gave_up: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("gave up on "):
                gave_up.append(line)
                if len(gave_up) == 2:
                    break
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert len(gave_up) == 2 and "cancelling it" in gave_up[0], gave_up
    assert "TimeoutError" not in err, err
    assert gave_up[0].split()[3].startswith("video_") and gave_up[0].split()[3] != gave_up[1].split()[3], gave_up
