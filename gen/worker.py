"""The generation worker: takes jobs from the queue, runs the pipeline,
publishes progress and live previews, writes media and records the outcome.

The pipeline (``FABULA_GEN_*`` options) is loaded once and runs in a thread
so the event loop stays free to publish progress, beat and keep its claim on
the running job. A job makes a clip with its sound track
(``VideoGenerator.generate_clip``), conditioned on the job's reference image
when it has one (image-to-video: uploads, extensions); every step's latents
become a JPEG preview (``gen.previews``); the frames get their provenance
marks (the moving label and the invisible key, ``gen.provenance``) before
encoding, and the MP4 and thumbnail are C2PA-signed before they go to the
media store (``core.media_store``) under the job id.

One job at a time, in an attempt fenced on the job document (see
``gen.jobs``). After every denoising step the worker records progress — a
write that only succeeds while the attempt is still its own — and looks at
the job's cancel flag; if either says stop, the step callback raises, the
pipeline stops there, nothing is written and the worker moves on. A beat task
writes the heartbeat (``gen.heartbeat``) and extends the claim on the running
entry every third of the visibility timeout; if the entry was taken over by
another worker the job is abandoned the same way.

An attempt that raises is retried (back to the end of its owner's lane) until
``job_max_attempts``; then the job fails as ``too_many_attempts`` with the last
reason and its entry goes to the dead-letter stream. A job whose worker was
killed is taken over by another worker after the visibility timeout and
counts that lost attempt the same way. A worker told to stop (SIGTERM) takes
no more jobs, gives a running one ``worker_stop_grace_s`` to finish, then
hands it back to the head of its lane uncounted (``Worker.hand_back``), so
the next worker takes it at once. A media store that will not take the
outputs (full, read-only, unreachable) is no fault of the job either: it goes
back the same way with the reason, and the worker waits a growing while
before its next job, so the job is made once the store takes writes again.

Every finished clip is moderated before anything of it is written
(``gen.output_checks``: NudeNet on sampled frames, the sound track's
transcript through the text moderation, and the likeness check the worker's
command passes in, on the same frames). A refused clip ends the job
``failed`` with ``moderation_blocked`` (the check and the category in its
message), at once and without a retry (the same seed makes the same clip);
nothing is stored, and outputs an earlier attempt left behind are deleted.
The refusal is recorded on the job and, through the ``record_refusal`` hook
the command passes in, in the audit log. The checks' models load once per
process after the pipeline (the worker is ready without waiting for them;
the first job's checks do), and the checks run on a thread of their
own at a lower priority, so that heartbeats keep their time on a busy CPU.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import functools
import logging
import os
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.messages import JobEvent
from core.settings import Settings
from core.stores import Stores, open_stores
from gen import cancel, events, heartbeat, jobs, lost_jobs, previews, queue
from gen.encode import encode_mp4, write_thumbnail
from core.media_store import LocalMediaStore, open_media_store
from gen import output_checks
from gen.output_checks import Finding
from gen.reference import open_reference
from gen.provenance import outputs as provenance_outputs
from gen.provenance import phash, phash_store
from gen.provenance import registry as provenance_registry
from gen.provenance.keys import SigningKeys, load_signing_keys
from gen.provenance.manifest import CameoConsent, Claims
from policy.face_likeness import OutputLikeness, ShownCameo

log = logging.getLogger("fabula.worker")

# The consent re-check at pickup: (stores, owner_id, video_id, prompt) ->
# (code, message) when the job may no longer run, else None. The worker's
# command passes cameos.admission.refusal; generation itself knows no cameos.
Admission = Callable[[Stores, str, str, str], Awaitable[tuple[str, str] | None]]

# The likeness check of a finished clip: (stores, owner_id, the job's prompt,
# sampled RGB uint8 frames, the ids of the cameos the job names) -> a refusal,
# or the other people's cameos the clip shows beyond those. The worker's
# command passes cameos.output_likeness.check_output.
LikenessCheck = Callable[[Stores, str, str, list, list[str]], Awaitable[OutputLikeness]]

# Where the cameos a passed clip shows beyond its job's are recorded (the
# worker's command passes one that notes each as an appearance and tells its
# owner): (stores, the job, the cameos). Called before the job completes.
ShownRecord = Callable[[Stores, jobs.Job, tuple[ShownCameo, ...]], Awaitable[None]]

# Where a refused output is recorded beyond its job document (the worker's
# command passes an audit-log writer): (stores, the failed job, the finding).
RefusalRecord = Callable[[Stores, jobs.Job, Finding], Awaitable[None]]

PRUNE_CONSUMERS_EVERY_S = 300.0
CONSUMER_IDLE_MS = 3_600_000


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"




class JobAbandoned(Exception):
    """Raised from the step callback to stop the pipeline (``reason``: cancelled | lost | shutdown)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InjectedFault(RuntimeError):
    """The failure FABULA_WORKER_FAIL_PROMPT asks for (tests only)."""


class MediaUnavailable(RuntimeError):
    """The media store would not take a job's outputs (full, read-only, unreachable), or the
    worker's own disk would not take them on their way there: not the job's fault."""


# a disk that takes no more: full, over a quota or a file-size limit, read-only
DISK_REFUSED = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


class OutputRefused(Exception):
    """Output moderation refused the finished clip (``finding`` says why)."""

    def __init__(self, finding: Finding):
        super().__init__(f"{finding.check}: {finding.category}")
        self.finding = finding


# the output checks' thread runs this much nicer than the rest of the worker, so
# that on a busy CPU the event loop (heartbeats, the claim on the job) comes first
CHECKS_NICENESS = 10


def _nicer_thread() -> None:
    """Lower this thread's priority (Linux: a thread's own nice value; threads
    that onnxruntime starts from it inherit it)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECKS_NICENESS)


# after the media store refused outputs, the worker waits this long before its
# next job, twice as long each time in a row, at most MEDIA_BACKOFF_MAX_S
MEDIA_BACKOFF_S = 1.0
MEDIA_BACKOFF_MAX_S = 30.0


@dataclass
class Running:
    """The job a worker is running now: what cancel and the beat task reach."""

    entry: queue.Entry
    job: jobs.Job
    stop: str | None = None  # "cancelled", "lost" or "shutdown": abandon it at the next step
    handed_back: bool = False  # given back to its lane by a stopping worker
    giving_back: asyncio.Future | None = None  # the one hand-back every caller waits for

    @property
    def attempt(self) -> int:
        return self.job.attempts


class Worker:
    def __init__(
        self,
        settings: Settings,
        name: str | None = None,
        visibility_ms: int | None = None,
        admission: Admission | None = None,
        likeness_check: LikenessCheck | None = None,
        record_refusal: RefusalRecord | None = None,
        record_shown: ShownRecord | None = None,
    ):
        self.settings = settings
        self.admission = admission
        self.likeness_check = likeness_check
        self.record_refusal = record_refusal
        self.record_shown = record_shown
        self.name = name or default_name()
        self.visibility_ms = visibility_ms or settings.job_visibility_ms
        self.media = open_media_store(settings)
        self.stores: Stores | None = None
        self.generator = None
        self.signing: SigningKeys | None = None  # C2PA credentials, loaded at start when signing is on
        self.current: Running | None = None
        self.status = heartbeat.WorkerStatus(
            name=self.name,
            host=socket.gethostname(),
            pid=os.getpid(),
            model=settings.model,
            started_at=time.time(),
            interval_s=self.beat_interval_s,
        )
        self._completions: collections.deque[float] = collections.deque()
        self._beats: asyncio.Task | None = None
        self._sweeps: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._media_backoff_s = 0.0  # > 0 while the media store keeps refusing outputs
        # the output checks' models load and run on one thread of their own, at a lower priority
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="output-checks", initializer=_nicer_thread)
        self._checks_ready: asyncio.Future | None = None

    @property
    def beat_interval_s(self) -> float:
        """Heartbeat period: the configured one, or a third of the visibility timeout if shorter."""
        return max(0.05, min(self.settings.worker_heartbeat_s, self.visibility_ms / 3000))

    def stop(self) -> None:
        """Stop taking jobs; a running job has ``worker_stop_grace_s`` to finish,
        then goes back to the head of its lane (``hand_back``) and the pipeline
        stops at its next step. Called from the event loop (a signal handler)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.status.state = "stopping"
        run = self.current
        if run is not None:
            log.info("stopping: the running job has its grace period", extra={"video_id": run.job.id, "grace_s": self.settings.worker_stop_grace_s})
            loop = asyncio.get_running_loop()
            loop.call_later(self.settings.worker_stop_grace_s, lambda: loop.create_task(self._hand_back_after_grace(run)))

    async def _hand_back_after_grace(self, run: Running) -> None:
        try:
            await self.hand_back(run)
        except Exception:  # Redis or Mongo gone: the entry stays pending until its visibility timeout
            log.warning("hand-back failed; the job is taken again after the visibility timeout", extra={"video_id": run.job.id}, exc_info=True)

    async def hand_back(self, run: Running) -> None:
        """Give a job this worker stops running back to its lane, uncounted, at
        once: only while the attempt is still this worker's (a job that
        finished meanwhile is acknowledged as usual). The grace timer and the
        pipeline's stop may both ask: there is one hand-back, and every caller
        waits for it, so the worker closes its connections only after it."""
        if run.giving_back is None:
            if self.current is not run or self.stores is None:
                return
            run.giving_back = asyncio.ensure_future(self._give_back(run))
        await asyncio.shield(run.giving_back)

    async def _give_back(self, run: Running) -> None:
        assert self.stores is not None
        run.stop = run.stop or "shutdown"
        released = await jobs.release_attempt(self.stores, run.job.id, self.name, run.attempt)
        if released is None:
            return
        run.handed_back = True
        await queue.release(self.stores, self.name, run.entry)
        await events.publish(self.stores, JobEvent(type="status", video_id=run.job.id, status="queued", progress=0))
        log.info("job handed back: the worker is stopping", extra={"video_id": run.job.id, "attempt": run.attempt})

    async def start(self) -> None:
        """Connect, start beating (state ``starting``), load the pipeline, become ``idle``."""
        from gen.pipelines.options import GenOptions
        from gen.pipelines.registry import load_generator

        self.stores = open_stores(self.settings)
        await queue.ensure_group(self.stores)
        await provenance_registry.ensure_indexes(self.stores)
        await phash_store.ensure_indexes(self.stores)
        if self.settings.c2pa_sign:
            self.signing = await asyncio.to_thread(load_signing_keys, self.settings)
        self._beats = asyncio.create_task(self._beat_loop())
        if self.settings.job_sweep_every_s > 0:
            self._sweeps = asyncio.create_task(self._sweep_loop())
        self.generator = await asyncio.to_thread(
            load_generator, self.settings.model, self.settings.models_root, options=GenOptions.from_env()
        )
        # the output checks' models load once per process, on their thread, after the
        # pipeline (two threads importing transformers at once can fail) and without
        # holding the worker back: the first job's checks wait for them if need be
        self._checks_ready = asyncio.get_running_loop().run_in_executor(self._checks, output_checks.warm_up)
        self.status.state = "idle"
        await self._beat()
        log.info("worker ready", extra={"worker": self.name, "model": self.settings.model, "visibility_ms": self.visibility_ms})

    async def run(self) -> None:
        to_ack: str | None = None
        try:
            await self.start()
            assert self.stores is not None
            while not self._stop.is_set():
                try:
                    entry = await queue.next_entry(self.stores, self.name, visibility_ms=self.visibility_ms, ack=to_ack)
                except (RedisConnectionError, RedisTimeoutError):
                    log.warning("queue unreachable; retrying", extra={"worker": self.name}, exc_info=True)
                    await asyncio.sleep(1.0)
                    continue
                to_ack = None
                if entry is not None and self._stop.is_set():  # taken while stopping: give it back untouched
                    await queue.release(self.stores, self.name, entry)
                    break
                if entry is not None:
                    try:
                        to_ack = await self.handle(entry)
                        if self._media_backoff_s:  # the store refused the outputs: wait before the next try
                            with contextlib.suppress(asyncio.TimeoutError):
                                await asyncio.wait_for(self._stop.wait(), self._media_backoff_s)
                    except Exception:
                        # Mongo or Redis failed under us: the entry stays pending
                        # and is taken over (by any worker) after the visibility timeout
                        log.exception("job handling failed; leaving its entry pending", extra={"video_id": entry.video_id})
                        await asyncio.sleep(1.0)
        finally:
            for task in (self._beats, self._sweeps):
                if task is not None:
                    task.cancel()
            self._checks.shutdown(wait=False, cancel_futures=True)
            if self.stores is not None:
                try:
                    if to_ack is not None:
                        await queue.ack(self.stores, to_ack)
                    await heartbeat.remove(self.stores, self.name)
                finally:
                    await self.stores.close()

    # --- one job -------------------------------------------------------------

    async def handle(self, entry: queue.Entry) -> str | None:
        """Run one entry's job; returns the entry id to acknowledge (None: already dealt with)."""
        stores = self.stores
        assert stores is not None
        max_attempts = self.settings.job_max_attempts
        job = await jobs.begin_attempt(stores, entry.video_id, self.name, max_attempts)
        if job is None:
            current = await jobs.get_job(stores, entry.video_id)
            if current is None or current.done:  # deleted, cancelled, or finished by another worker
                return entry.entry_id
            if current.status == "in_progress" and current.worker:
                reason = f"worker {current.worker} stopped answering during attempt {current.attempts}"
            else:
                reason = current.last_error or "no reason recorded"
            await self._give_up(entry, current, reason, fenced=False)
            return None

        if self.admission is not None and (refused := await self.admission(stores, job.owner_id, job.id, job.prompt)):
            return await self._refuse(entry, job, *refused)

        run = Running(entry=entry, job=job)
        self.current = run
        self.status.state, self.status.video_id = "busy", job.id
        self.status.last_wait_ms = entry.waited_ms if entry.waited_ms is not None else -1
        log.info(
            "job started",
            extra={"video_id": job.id, "attempt": job.attempts, "lane": entry.lane, "waited_ms": entry.waited_ms, "reclaimed": entry.reclaimed},
        )
        await events.publish(stores, JobEvent(type="status", video_id=job.id, status="in_progress", progress=0))
        try:
            media = await self._generate(run)
        except JobAbandoned as stop:
            return await self._abandoned(run, stop.reason)
        except OutputRefused as refused:
            return await self._blocked(run, refused.finding)
        except MediaUnavailable as exc:
            return await self._media_down(run, str(exc))
        except Exception as exc:
            self.status.jobs_failed += 1
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("attempt failed", extra={"video_id": job.id, "attempt": job.attempts, "reason": reason}, exc_info=not isinstance(exc, InjectedFault))
            if job.attempts >= max_attempts:
                await self._give_up(entry, job, reason, fenced=True)
                return None
            requeued = await jobs.requeue_attempt(stores, job.id, self.name, job.attempts, reason)
            if requeued is None:  # cancelled or taken over meanwhile
                return entry.entry_id if await queue.touch(stores, self.name, entry.entry_id) else None
            await events.publish(
                stores,
                JobEvent(type="status", video_id=job.id, status="queued", progress=0, error={"code": "retrying", "message": reason[:500]}),
            )
            await queue.retry(stores, entry)
            return None
        else:
            done = await jobs.complete_attempt(stores, job.id, self.name, job.attempts, media)
            if done is None:
                log.info("job finished elsewhere", extra={"video_id": job.id, "attempt": job.attempts})
                return entry.entry_id if await queue.touch(stores, self.name, entry.entry_id) else None
            self.status.jobs_done += 1
            self._media_backoff_s = 0.0
            self._completions.append(time.monotonic())
            log.info("job completed", extra={"video_id": job.id, "attempt": job.attempts, "frames": media.frames})
            await events.publish(stores, JobEvent(type="status", video_id=job.id, status="completed", progress=100))
            return entry.entry_id
        finally:
            if run.giving_back is not None:  # a hand-back begun as the job ended: the connections outlive it
                await asyncio.wait([run.giving_back])
            self.current = None
            self.status.state, self.status.video_id = "idle", ""

    async def _abandoned(self, run: Running, reason: str) -> str | None:
        stores = self.stores
        assert stores is not None
        if reason == "shutdown":  # this worker is stopping: the job goes back to its lane (if it has not yet)
            await self.hand_back(run)
            return None
        still_mine = await queue.touch(stores, self.name, run.entry.entry_id)
        if reason == "cancelled" or (still_mine and not await jobs.owns_attempt(stores, run.job.id, self.name, run.attempt)):
            # cancelled or deleted by the api: it already recorded the outcome
            self.status.jobs_cancelled += 1
            log.info("job cancelled", extra={"video_id": run.job.id, "attempt": run.attempt})
            return run.entry.entry_id if still_mine else None
        self.status.jobs_lost += 1
        log.warning("job taken over by another worker; abandoned", extra={"video_id": run.job.id, "attempt": run.attempt})
        return None

    async def _refuse(self, entry: queue.Entry, job: jobs.Job, code: str, message: str) -> str | None:
        """The job may no longer run (consent withdrawn while it waited): it fails with the refusal's code."""
        stores = self.stores
        assert stores is not None
        failed = await jobs.fail_attempt(stores, job.id, self.name, job.attempts, code, message)
        if failed is None:  # cancelled or taken over meanwhile
            return entry.entry_id if await queue.touch(stores, self.name, entry.entry_id) else None
        self.status.jobs_failed += 1
        log.info("job refused at pickup", extra={"video_id": job.id, "code": code})
        await events.publish(
            stores,
            JobEvent(type="status", video_id=job.id, status="failed", progress=failed.progress, error={"code": code, "message": message[:500]}),
        )
        return entry.entry_id

    async def _blocked(self, run: Running, finding: Finding) -> str | None:
        """Output moderation refused the clip: the job fails as
        ``moderation_blocked`` (no retry: the same seed makes the same clip),
        outputs an earlier attempt may have stored are deleted, the refusal is
        recorded (``record_refusal``) and the ``failed`` event names the check
        and the category."""
        stores = self.stores
        assert stores is not None
        job = run.job
        message = f"{finding.reason} (output moderation: {finding.check}, category {finding.category})"
        failed = await jobs.fail_attempt(stores, job.id, self.name, run.attempt, "moderation_blocked", message)
        if failed is None:  # cancelled or taken over meanwhile
            return run.entry.entry_id if await queue.touch(stores, self.name, run.entry.entry_id) else None
        self.status.jobs_failed += 1
        log.warning(
            "output refused by moderation",
            extra={"video_id": job.id, "check": finding.check, "category": finding.category, "details": finding.details},
        )
        try:  # an earlier attempt that died between storing and completing left them
            if await self.media.size(job.id, "video") is not None or await self.media.size(job.id, "thumbnail") is not None:
                await self.media.delete(job.id)
        except Exception:
            log.exception("could not delete a refused video's earlier outputs", extra={"video_id": job.id})
        if self.record_refusal is not None:
            try:
                await self.record_refusal(stores, failed, finding)
            except Exception:  # the job document holds the refusal either way
                log.exception("could not record an output refusal", extra={"video_id": job.id})
        error = {"code": "moderation_blocked", "message": message[:500], "category": finding.category, "check": finding.check}
        await events.publish(stores, JobEvent(type="status", video_id=job.id, status="failed", progress=failed.progress, error=error))
        return run.entry.entry_id

    async def _media_down(self, run: Running, reason: str) -> str | None:
        """The media store refused the outputs: the job goes back, uncounted, to
        the head of its lane with the reason (``last_error``, and a ``queued``
        event whose error is ``media_unavailable``), and the worker waits before
        its next job, longer each time in a row, so the job is made again once
        the store takes writes."""
        stores = self.stores
        assert stores is not None
        self._media_backoff_s = min(MEDIA_BACKOFF_MAX_S, self._media_backoff_s * 2 or MEDIA_BACKOFF_S)
        log.warning(
            "media store unavailable; job handed back",
            extra={"video_id": run.job.id, "attempt": run.attempt, "reason": reason, "retry_in_s": self._media_backoff_s},
        )
        if await jobs.release_attempt(stores, run.job.id, self.name, run.attempt, reason=reason) is None:
            # cancelled or taken over meanwhile
            return run.entry.entry_id if await queue.touch(stores, self.name, run.entry.entry_id) else None
        await queue.release(stores, self.name, run.entry)
        error = {"code": "media_unavailable", "message": reason[:500]}
        await events.publish(stores, JobEvent(type="status", video_id=run.job.id, status="queued", progress=0, error=error))
        return None

    async def _give_up(self, entry: queue.Entry, job: jobs.Job, reason: str, *, fenced: bool) -> None:
        """Too many attempts: fail the job with its last reason and dead-letter the entry."""
        stores = self.stores
        assert stores is not None
        message = f"gave up after {job.attempts} attempts; last: {reason}"
        if fenced:
            failed = await jobs.fail_attempt(stores, job.id, self.name, job.attempts, "too_many_attempts", message)
        else:
            failed = await jobs.fail(stores, job.id, "too_many_attempts", message)
        if failed is None:  # cancelled or finished meanwhile
            if await queue.touch(stores, self.name, entry.entry_id):
                await queue.ack(stores, entry.entry_id)
            return
        log.warning("job dead-lettered", extra={"video_id": job.id, "attempts": job.attempts, "reason": reason})
        await queue.dead_letter(stores, entry, reason, job.attempts, self.name)
        await events.publish(
            stores,
            JobEvent(type="status", video_id=job.id, status="failed", progress=failed.progress, error={"code": "too_many_attempts", "message": message[:500]}),
        )

    async def _report(self, run: Running, step: int, total: int, preview: bytes | None) -> None:
        """After a denoising step: record progress and publish it (and the step's
        preview), unless the job is no longer ours to run."""
        stores = self.stores
        assert stores is not None
        job = run.job
        progress = min(99, int(step * 100 / total))
        owned, cancelled = await asyncio.gather(
            jobs.report_progress(stores, job.id, self.name, run.attempt, progress),
            cancel.is_cancelled(stores, job.id),
        )
        if cancelled:
            run.stop = "cancelled"
        elif not owned:
            run.stop = run.stop or "lost"
        if run.stop:
            return
        sends = [events.publish(stores, JobEvent(type="progress", video_id=job.id, status="in_progress", progress=progress, step=step, steps=total))]
        if preview is not None:
            sends.append(previews.publish(stores, previews.Preview(video_id=job.id, step=step, steps=total, progress=progress, image=preview)))
        await asyncio.gather(*sends)

    async def _reference(self, job: jobs.Job):
        """The picture an image-to-video job's first frame is conditioned on (None for text-to-video)."""
        if not job.reference:
            return None
        data = await self.media.get_bytes(job.id, "reference")
        if data is None:
            raise RuntimeError(f"the reference image of {job.id} is missing from the media store")
        return await asyncio.to_thread(open_reference, data)

    async def _generate(self, run: Running) -> jobs.Media:
        """Run the pipeline (with the step hooks that report, preview and stop it), then encode and store."""
        stores, generator = self.stores, self.generator
        assert stores is not None and generator is not None
        job = run.job
        loop = asyncio.get_running_loop()
        num_frames = generator.frame_count(job.seconds)
        image = await self._reference(job)
        fault = self.settings.worker_fail_prompt
        last = [time.monotonic()]
        preview: list[bytes | None] = [None]
        previewing = [True]

        def on_latents(step: int, total: int, latents) -> None:
            if not previewing[0] or run.stop is not None:
                return
            try:
                preview[0] = generator.render_preview(latents)
            except Exception:  # a preview is a nicety: never fail the job for it
                previewing[0] = False
                log.warning("preview rendering failed; no more previews for this job", extra={"video_id": job.id}, exc_info=True)

        def on_step(step: int, total: int) -> None:
            now = time.monotonic()
            if step > 1:  # the first interval includes prompt encoding
                self.status.last_step_s = now - last[0]
                self.status.steps_done += 1
                self.status.step_seconds_total += now - last[0]
            last[0] = now
            if fault and fault in job.prompt:
                raise InjectedFault(f"fault injected by FABULA_WORKER_FAIL_PROMPT at step {step}")
            if run.stop is None:
                shot, preview[0] = preview[0], None
                asyncio.run_coroutine_threadsafe(self._report(run, step, total, shot), loop).result(timeout=30)
            if run.stop is not None:
                raise JobAbandoned(run.stop)

        clip = await asyncio.to_thread(
            generator.generate_clip,
            job.render_prompt or job.prompt,
            width=job.width,
            height=job.height,
            num_frames=num_frames,
            steps=job.steps or generator.default_steps,
            seed=jobs.job_seed(job),
            on_step=on_step,
            on_latents=on_latents,
            image=image,
        )
        finding, shown = await self._moderate(run, clip)
        # the last chance to stop before anything is written
        if run.stop is None:
            if await cancel.is_cancelled(stores, job.id):
                run.stop = "cancelled"
            elif not await jobs.owns_attempt(stores, job.id, self.name, run.attempt):
                run.stop = "lost"
        if run.stop is not None:
            raise JobAbandoned(run.stop)
        if finding is not None:
            raise OutputRefused(finding)
        if shown and self.record_shown is not None:
            await self.record_shown(stores, job, shown)
        return await self._store(job, clip, shown)

    async def _moderate(self, run: Running, clip) -> tuple[Finding | None, tuple[ShownCameo, ...]]:
        """Output moderation of the finished clip (``gen.output_checks``): frames
        and sound in a thread, the likeness check beside them on the same sampled
        frames; the first refusal (frames, sound, likeness), or None, and the
        cameos the likeness check found beyond the job's."""
        stores = self.stores
        assert stores is not None
        job = run.job
        started = time.perf_counter()
        sample = output_checks.sample_frames(clip.frames, clip.fps)
        if self._checks_ready is not None:
            await self._checks_ready  # a failed warm-up raises here: the attempt fails, nothing is completed unchecked
        checks = asyncio.get_running_loop().run_in_executor(
            self._checks,
            functools.partial(output_checks.check_clip, sample, clip.audio, clip.sample_rate, strict=job.strict_moderation),
        )
        likeness_ms: list[float] = []

        async def likeness() -> OutputLikeness:
            if self.likeness_check is None:
                return OutputLikeness()
            at = time.perf_counter()
            try:
                return await self.likeness_check(stores, job.owner_id, job.prompt, sample, list(job.cameos))
            finally:
                likeness_ms.append(round((time.perf_counter() - at) * 1000, 1))

        report, faces = await asyncio.gather(checks, likeness())
        finding = report.refusal
        face = faces.refusal
        if finding is None and face is not None and not face.allowed:
            finding = Finding(
                check="likeness",
                category=face.category or "likeness",
                reason=face.reason or "The video shows someone whose likeness you may not use.",
            )
        log.info(
            "output checked",
            extra={
                "video_id": job.id,
                "frames_checked": report.frames_checked,
                "frames_ms": report.frames_ms,
                "sound_ms": report.sound_ms,
                "likeness_ms": likeness_ms[0] if likeness_ms else None,
                "check_ms": round((time.perf_counter() - started) * 1000, 1),
                "refused": finding.check if finding is not None else None,
                "cameos_shown": [c.cameo_id for c in faces.shown] if finding is None else [],
            },
        )
        return finding, (faces.shown if finding is None else ())

    async def _store(self, job: jobs.Job, clip, shown: tuple[ShownCameo, ...] = ()) -> jobs.Media:
        """Mark the frames (gen.provenance: the moving label, the invisible key),
        encode the MP4 (with its sound) and the thumbnail, sign both (C2PA) and put
        them in the media store under the job id (a retry overwrites the same keys).
        Files are encoded and signed in a temporary folder and put whole; only an
        unsigned local store is written in place."""
        frames, key = await self._marked(job, clip.frames)
        # the served frames' perceptual hashes, for the public check (gen.provenance.phash_store)
        await phash_store.record(self.stores, job.id, await asyncio.to_thread(phash.frame_hashes, frames))
        try:
            return await self._encoded_and_put(job, frames, clip, key, shown)
        except OSError as exc:  # the scratch folder's disk (encoding, signing): as the store's
            if exc.errno in DISK_REFUSED:
                raise MediaUnavailable(f"the worker's disk cannot take the outputs: {exc}") from exc
            raise

    async def _encoded_and_put(self, job: jobs.Job, frames, clip, key: int | None, shown: tuple[ShownCameo, ...]) -> jobs.Media:
        """Encode, sign and put the marked ``frames`` (``_store``)."""
        store = self.media
        with tempfile.TemporaryDirectory(prefix="fabula-worker-") as tmp:
            local = isinstance(store, LocalMediaStore) and self.signing is None
            video_path = store.path(job.id, "video") if local else Path(tmp) / "video.mp4"
            thumb_path = store.path(job.id, "thumbnail") if local else Path(tmp) / "thumbnail.jpg"
            started = time.perf_counter()
            size = (job.output_width, job.output_height) if job.output_width and job.output_height else None
            try:
                encoded = await asyncio.to_thread(
                    encode_mp4, frames, clip.fps, video_path, audio=clip.audio, sample_rate=clip.sample_rate, size=size
                )
                await asyncio.to_thread(write_thumbnail, frames[len(frames) // 2], thumb_path, size=size)
            except OSError as exc:
                if local:  # written in place: the store refused it
                    raise MediaUnavailable(f"the media store cannot take the outputs: {exc}") from exc
                raise
            encoded_at = time.perf_counter()
            if self.signing is not None:
                video_path, thumb_path = await self._signed(job, key, video_path, thumb_path, shown)
            log.info(
                "outputs made",
                extra={
                    "video_id": job.id,
                    "encode_ms": round((encoded_at - started) * 1000, 1),
                    "sign_ms": round((time.perf_counter() - encoded_at) * 1000, 1),
                },
            )
            try:
                stored = await store.put_file(job.id, "video", video_path)
                await store.put_file(job.id, "thumbnail", thumb_path)
            except Exception as exc:  # each put is whole or nothing; a retry overwrites both
                raise MediaUnavailable(f"the media store cannot take the outputs: {type(exc).__name__}: {exc}") from exc
        return jobs.Media(bytes=stored, frames=encoded.frames, fps=encoded.fps, width=encoded.width, height=encoded.height)

    async def _marked(self, job: jobs.Job, frames) -> tuple:
        """The frames with their provenance marks, and the invisible key (None when off)."""
        settings = self.settings
        key = await provenance_registry.assign_key(self.stores, job.id) if settings.watermark_invisible else None
        if key is None and not settings.watermark_visible:
            return frames, None
        started = time.perf_counter()
        marked = await asyncio.to_thread(
            provenance_outputs.mark_frames, frames, key=key, handle=job.creator_handle, settings=settings, in_place=True
        )
        log.info("frames marked", extra={"video_id": job.id, "mark_ms": round((time.perf_counter() - started) * 1000, 1)})
        return marked, key

    async def _signed(
        self, job: jobs.Job, key: int | None, video_path: Path, thumb_path: Path, shown: tuple[ShownCameo, ...]
    ) -> tuple[Path, Path]:
        """Signed copies of the MP4 and the thumbnail, beside the originals. The
        consents are the job's cameos' and those of the cameos the clip was found to show."""
        assert self.signing is not None
        found = tuple(CameoConsent(cameo_id=c.cameo_id, mention=c.mention, basis=c.basis, grant_id=c.grant_id) for c in shown)
        claims = Claims(
            video_id=job.id,
            model=job.model,
            creator_handle=job.creator_handle,
            remixed_from_video_id=job.remixed_from_video_id,
            extends_video_id=job.extend_of,
            watermark_key=key,
            cameos=tuple(job.cameo_consents) + found,
        )
        signed_video = video_path.with_name(f"signed-{video_path.name}")
        signed_thumb = thumb_path.with_name(f"signed-{thumb_path.name}")
        await asyncio.to_thread(
            provenance_outputs.sign_outputs, (video_path, signed_video), (thumb_path, signed_thumb), claims, self.signing
        )
        return signed_video, signed_thumb

    # --- liveness ----------------------------------------------------------

    async def _beat(self) -> None:
        assert self.stores is not None
        now = time.monotonic()
        while self._completions and self._completions[0] < now - 60:
            self._completions.popleft()
        self.status.jobs_last_min = len(self._completions)
        self.status.gpu_mem_bytes, self.status.gpu_mem_peak_bytes, self.status.gpu_mem_total_bytes = heartbeat.gpu_memory()
        await heartbeat.beat(self.stores, self.status)

    async def _sweep_loop(self) -> None:
        """Every ``job_sweep_every_s``, if no other worker has this period: queue
        again the unfinished jobs Redis has no trace of (``gen.lost_jobs``)."""
        stores = self.stores
        assert stores is not None
        every_s = self.settings.job_sweep_every_s
        while True:
            await asyncio.sleep(every_s)
            try:
                if await queue.claim_sweep(stores, self.name, every_s):
                    swept = await lost_jobs.sweep(stores, older_than_s=self.settings.job_sweep_after_s)
                    self.status.jobs_recovered += swept.recovered
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis or Mongo down: the next period tries again
                log.warning("looking for lost jobs failed", extra={"worker": self.name}, exc_info=True)

    async def _beat_loop(self) -> None:
        """Heartbeat, and keep the claim on the running entry (or learn that it was lost)."""
        stores = self.stores
        assert stores is not None
        next_prune = time.monotonic() + PRUNE_CONSUMERS_EVERY_S
        while True:
            try:
                run = self.current
                kept = run is None or run.stop is not None or await queue.touch(stores, self.name, run.entry.entry_id)
                if not kept and self.current is run:
                    run.stop = "lost"
                await self._beat()
                if time.monotonic() > next_prune:
                    next_prune = time.monotonic() + PRUNE_CONSUMERS_EVERY_S
                    await queue.prune_consumers(stores, CONSUMER_IDLE_MS)
            except asyncio.CancelledError:
                raise
            except Exception:  # a blip in Redis must not stop the beat
                log.exception("heartbeat failed", extra={"worker": self.name})
            await asyncio.sleep(self.beat_interval_s)
