"""A generation worker run in the test's own event loop (so a test can wrap
its loaded pipeline and read its status), and the Videos API calls the
worker tests make against an api on the same namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from gen.worker import Worker
from tests.gen.test_queue import poll


class Retouched:
    """A test double around the real pipeline: it makes the real clip, then
    hands it to ``retouch(prompt, clip)``, which may replace some of it."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def generate_clip(self, prompt: str, **kwargs):
        return self.retouch(prompt, self.real.generate_clip(prompt, **kwargs))

    def retouch(self, prompt: str, clip):
        return clip


@asynccontextmanager
async def running(worker: Worker, wrap: Callable | None = None) -> AsyncIterator[Worker]:
    """``worker`` running until the block ends, idle with its pipeline loaded;
    ``wrap(pipeline)`` replaces the pipeline first (a test double around the real one)."""
    task = asyncio.create_task(worker.run())

    async def ready():
        assert not task.done(), task
        return worker.status.state == "idle" and worker.generator is not None

    try:
        await poll(ready, timeout=180, what="the worker to load its pipeline and checks")
        if wrap is not None:
            worker.generator = wrap(worker.generator)
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 60)


async def make_video(client, me, prompt: str) -> str:
    """A 4-second 64×64 video of ``prompt`` in 2 steps, made by ``me``; its id."""
    r = await client.post("/v1/videos", json={"prompt": prompt, "size": "64x64", "seconds": "4", "steps": 2}, headers=me["headers"])
    assert r.status_code == 200, r.text
    return r.json()["id"]


async def finished(client, me, video_id: str) -> dict:
    """The video once it is completed or failed, as its owner reads it."""

    async def done():
        r = await client.get(f"/v1/videos/{video_id}", headers=me["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        return body if body["status"] in ("completed", "failed") else None

    return await poll(done, timeout=180, what=f"{video_id} to finish")
