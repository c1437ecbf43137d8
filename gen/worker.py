"""The generation worker: takes jobs from the queue, runs the pipeline,
publishes progress, writes media and records the outcome.

The pipeline is loaded once and runs in a thread so the event loop stays free
to publish progress while the denoiser works."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

from core.messages import JobEvent
from core.settings import Settings
from core.stores import Stores, open_stores
from gen import events, jobs, queue
from gen.encode import encode_mp4, write_thumbnail
from gen.media import LocalMediaStore

log = logging.getLogger("fabula.worker")


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker:
    def __init__(self, settings: Settings, name: str | None = None, visibility_ms: int = 60_000):
        self.settings = settings
        self.name = name or default_name()
        self.visibility_ms = visibility_ms
        self.media = LocalMediaStore(settings.media_root)
        self.stores: Stores | None = None
        self.generator = None
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        from gen.pipelines.registry import load_generator

        self.stores = open_stores(self.settings)
        await queue.ensure_group(self.stores)
        self.generator = await asyncio.to_thread(load_generator, self.settings.model, self.settings.models_root)
        log.info("worker ready", extra={"worker": self.name, "model": self.settings.model})

    async def run(self) -> None:
        await self.start()
        assert self.stores is not None
        try:
            while not self._stop.is_set():
                entries = await queue.claim_stale(self.stores, self.name, self.visibility_ms)
                if not entries:
                    entries = await queue.read_new(self.stores, self.name, block_ms=1000)
                for entry in entries:
                    await self.handle(entry)
        finally:
            await self.stores.close()

    async def handle(self, entry: queue.Entry) -> None:
        stores = self.stores
        assert stores is not None
        job = await jobs.start_attempt(stores, entry.video_id, self.name)
        if job is None:  # deleted, or already finished by another worker
            await queue.ack(stores, entry.entry_id)
            return
        if job.attempts > self.settings.job_max_attempts:
            await self._finish_failed(job.id, "too_many_attempts", f"gave up after {job.attempts - 1} attempts")
            await queue.ack(stores, entry.entry_id)
            return
        log.info("job started", extra={"video_id": job.id, "attempt": job.attempts})
        await events.publish(stores, JobEvent(type="status", video_id=job.id, status="in_progress", progress=0))
        try:
            media = await self._generate(job)
        except Exception as exc:  # recorded with its reason, never retried in a loop
            log.exception("job failed", extra={"video_id": job.id})
            await self._finish_failed(job.id, "generation_failed", f"{type(exc).__name__}: {exc}")
        else:
            done = await jobs.complete(stores, job.id, media)
            log.info("job completed", extra={"video_id": job.id, "recorded": done is not None})
            if done is not None:
                await events.publish(stores, JobEvent(type="status", video_id=job.id, status="completed", progress=100))
        await queue.ack(stores, entry.entry_id)

    async def _finish_failed(self, video_id: str, code: str, message: str) -> None:
        assert self.stores is not None
        failed = await jobs.fail(self.stores, video_id, code, message)
        if failed is not None:
            await events.publish(
                self.stores,
                JobEvent(type="status", video_id=video_id, status="failed", progress=failed.progress, error={"code": code, "message": message}),
            )

    async def _generate(self, job: jobs.Job) -> jobs.Media:
        stores, generator = self.stores, self.generator
        assert stores is not None and generator is not None
        loop = asyncio.get_running_loop()
        num_frames = generator.frame_count(job.seconds)

        async def report(step: int, total: int) -> None:
            progress = min(99, int(step * 100 / total))
            await jobs.set_progress(stores, job.id, progress)
            await events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", progress=progress, step=step, steps=total))

        def on_step(step: int, total: int) -> None:
            asyncio.run_coroutine_threadsafe(report(step, total), loop).result(timeout=30)

        frames = await asyncio.to_thread(
            generator.generate,
            job.prompt,
            width=job.width,
            height=job.height,
            num_frames=num_frames,
            steps=job.steps or generator.default_steps,
            seed=job.seed,
            on_step=on_step,
        )
        video_path = self.media.path(job.id, "video")
        thumb_path = self.media.path(job.id, "thumbnail")
        encoded = await asyncio.to_thread(encode_mp4, frames, generator.fps, video_path)
        await asyncio.to_thread(write_thumbnail, frames[len(frames) // 2], thumb_path)
        return jobs.Media(bytes=encoded.bytes, frames=encoded.frames, fps=encoded.fps, width=encoded.width, height=encoded.height)
