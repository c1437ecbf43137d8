"""The operators' view of the generation fleet, and its Prometheus metrics.

``GET /v1/admin/workers`` lists live workers from their heartbeats;
``GET /v1/admin/queue`` shows queue depth per lane, jobs in flight and the
dead-letter stream. Both are for administrators (rights granted with
``fabula admin grant HANDLE``, ``accounts.admins``); anyone else gets 403.

``/metrics`` (served by the app from prometheus_client's default registry)
gains the queue's and the workers' figures through :class:`QueueCollector`,
read from Redis with a synchronous client when scraped (a handful of
commands, cached for a second).
"""

from __future__ import annotations

import logging
import threading
import time

import msgspec
from litestar import get
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from accounts import admins
from accounts.users import User
from core.errors import Forbidden
from core.settings import Settings, load_settings
from core.stores import Stores
from gen import heartbeat, queue
from server.auth import AUTH, UserDep
from server.openapi import errors
from server.state import SettingsDep, StoresDep

log = logging.getLogger("fabula.admin")


async def require_admin(stores: Stores, user: User) -> None:
    if not await admins.is_admin(stores, user.id):
        raise Forbidden("this needs an administrator", code="not_admin")


class WorkerView(msgspec.Struct, kw_only=True):
    name: str
    state: str
    video_id: str | None
    host: str
    pid: int
    model: str
    started_at: int
    last_beat_s_ago: float
    jobs_done: int
    jobs_failed: int
    jobs_cancelled: int
    jobs_lost: int
    jobs_recovered: int
    jobs_last_min: int
    last_step_s: float | None
    mean_step_s: float | None
    last_wait_ms: int | None
    gpu_mem_bytes: int | None
    gpu_mem_peak_bytes: int | None
    gpu_mem_total_bytes: int | None


class WorkerList(msgspec.Struct):
    data: list[WorkerView]
    object: str = "list"


class DeadLetter(msgspec.Struct, kw_only=True):
    id: str
    video_id: str
    owner: str
    attempts: int
    worker: str
    reason: str


class QueueView(msgspec.Struct, kw_only=True):
    lanes: dict[str, int]  # queued jobs per lane
    owners_waiting: dict[str, int]  # users with jobs queued, per lane
    queued: int
    in_flight: int  # delivered to a worker, not yet acknowledged
    workers_alive: int
    workers_busy: int
    jobs_last_min: int
    dead_letters: int
    recent_dead: list[DeadLetter]


def _opt(value: float) -> float | int | None:
    return None if value < 0 else value


def worker_view(status: heartbeat.WorkerStatus, now: float) -> WorkerView:
    return WorkerView(
        name=status.name,
        state=status.state,
        video_id=status.video_id or None,
        host=status.host,
        pid=status.pid,
        model=status.model,
        started_at=int(status.started_at),
        last_beat_s_ago=round(max(0.0, now - status.beat_at), 3),
        jobs_done=status.jobs_done,
        jobs_failed=status.jobs_failed,
        jobs_cancelled=status.jobs_cancelled,
        jobs_lost=status.jobs_lost,
        jobs_recovered=status.jobs_recovered,
        jobs_last_min=status.jobs_last_min,
        last_step_s=round(status.last_step_s, 6) if status.steps_done else None,
        mean_step_s=round(status.step_seconds_total / status.steps_done, 6) if status.steps_done else None,
        last_wait_ms=_opt(status.last_wait_ms),
        gpu_mem_bytes=_opt(status.gpu_mem_bytes),
        gpu_mem_peak_bytes=_opt(status.gpu_mem_peak_bytes),
        gpu_mem_total_bytes=_opt(status.gpu_mem_total_bytes),
    )


@get("/v1/admin/workers", dependencies=AUTH, responses=errors(401, 403), tags=["admin"])
async def admin_workers(stores: StoresDep, settings: SettingsDep, user: UserDep) -> WorkerList:
    """Live workers (from heartbeats): state, current job, counters, step time, GPU memory."""
    await require_admin(stores, user)
    bind_queue_metrics(settings)
    now = time.time()
    return WorkerList(data=[worker_view(s, now) for s in await heartbeat.list_workers(stores)])


@get("/v1/admin/queue", dependencies=AUTH, responses=errors(401, 403), tags=["admin"])
async def admin_queue(stores: StoresDep, settings: SettingsDep, user: UserDep) -> QueueView:
    """Queue depth per lane, jobs in flight, and the dead-letter stream."""
    await require_admin(stores, user)
    bind_queue_metrics(settings)
    depth = await queue.depth(stores)
    workers = await heartbeat.list_workers(stores)
    dead = [
        DeadLetter(
            id=row["id"],
            video_id=row.get("video_id", ""),
            owner=row.get("owner", ""),
            attempts=int(row.get("attempts", 0)),
            worker=row.get("worker", ""),
            reason=row.get("reason", ""),
        )
        for row in await queue.dead_letters(stores, 20)
    ]
    return QueueView(
        lanes=depth.lanes,
        owners_waiting=depth.owners,
        queued=depth.queued,
        in_flight=depth.in_flight,
        workers_alive=len(workers),
        workers_busy=sum(1 for w in workers if w.state == "busy"),
        jobs_last_min=sum(w.jobs_last_min for w in workers),
        dead_letters=depth.dead,
        recent_dead=dead,
    )


ROUTES = [admin_workers, admin_queue]


# --- Prometheus ---------------------------------------------------------------


class QueueCollector(Collector):
    """Queue depth, jobs in flight and worker heartbeats as Prometheus metrics.

    prometheus_client collectors are synchronous, so this one reads Redis
    with its own synchronous client (short timeouts) and keeps the result
    for ``cache_s``; after a failure it reports ``fabula_queue_up 0`` and
    waits ``retry_s`` before trying again.
    """

    def __init__(self, cache_s: float = 1.0, retry_s: float = 5.0) -> None:
        self.cache_s, self.retry_s = cache_s, retry_s
        self._settings: Settings | None = None
        self._client = None
        self._lock = threading.Lock()
        self._snapshot: tuple[queue.Depth, list[heartbeat.WorkerStatus]] | None = None
        self._taken_at = 0.0
        self._failed_at = 0.0

    def bind(self, settings: Settings) -> None:
        with self._lock:
            if self._settings is not None and (self._settings.redis_url, self._settings.namespace) == (settings.redis_url, settings.namespace):
                return
            self._settings, self._client, self._snapshot = settings, None, None

    def describe(self):
        return []  # nothing known before the first scrape (and no Redis call at registration)

    def _read(self):
        import redis

        now = time.monotonic()
        if self._snapshot is not None and now - self._taken_at < self.cache_s:
            return self._snapshot
        if now - self._failed_at < self.retry_s:
            return None
        try:
            if self._settings is None:
                self._settings = load_settings()
            if self._client is None:
                self._client = redis.Redis.from_url(self._settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            ns = self._settings.namespace
            self._snapshot = (queue.depth_sync(self._client, ns), heartbeat.list_workers_sync(self._client, ns))
            self._taken_at = now
            return self._snapshot
        except Exception:
            log.warning("queue metrics unavailable", exc_info=True)
            self._failed_at, self._snapshot, self._client = now, None, None
            return None

    def collect(self):
        with self._lock:
            snapshot = self._read()
        up = GaugeMetricFamily("fabula_queue_up", "1 when the queue's metrics could be read from Redis")
        up.add_metric([], 1 if snapshot else 0)
        yield up
        if snapshot is None:
            return
        depth, workers = snapshot

        lanes = GaugeMetricFamily("fabula_queue_depth", "Jobs waiting in their lanes", labels=["lane"])
        owners = GaugeMetricFamily("fabula_queue_owners_waiting", "Users with jobs waiting", labels=["lane"])
        for lane in queue.LANES:
            lanes.add_metric([lane], depth.lanes.get(lane, 0))
            owners.add_metric([lane], depth.owners.get(lane, 0))
        yield lanes
        yield owners
        yield GaugeMetricFamily("fabula_jobs_in_flight", "Jobs delivered to a worker and not yet acknowledged", value=depth.in_flight)
        yield GaugeMetricFamily("fabula_queue_dead_letters", "Jobs kept on the dead-letter stream", value=depth.dead)
        yield GaugeMetricFamily("fabula_workers_alive", "Workers whose heartbeat has not expired", value=len(workers))
        yield GaugeMetricFamily("fabula_workers_busy", "Workers running a job", value=sum(1 for w in workers if w.state == "busy"))
        yield GaugeMetricFamily("fabula_jobs_per_minute", "Jobs completed in the last minute, all workers", value=sum(w.jobs_last_min for w in workers))

        done = CounterMetricFamily("fabula_worker_jobs_done", "Jobs completed by a worker since it started", labels=["worker"])
        failed = CounterMetricFamily("fabula_worker_jobs_failed", "Attempts that raised, by worker", labels=["worker"])
        cancelled = CounterMetricFamily("fabula_worker_jobs_cancelled", "Jobs stopped by a cancel, by worker", labels=["worker"])
        recovered = CounterMetricFamily(
            "fabula_worker_jobs_recovered", "Unfinished jobs Redis had lost, queued again by a worker's sweeps", labels=["worker"]
        )
        steps = CounterMetricFamily("fabula_worker_steps", "Denoising steps run, by worker", labels=["worker"])
        step_s = CounterMetricFamily("fabula_worker_step_seconds", "Seconds spent in denoising steps, by worker", labels=["worker"])
        last_step = GaugeMetricFamily("fabula_worker_last_step_seconds", "Duration of a worker's latest denoising step", labels=["worker"])
        wait = GaugeMetricFamily("fabula_worker_last_queue_wait_seconds", "How long a worker's latest job waited in its lane", labels=["worker"])
        gpu = GaugeMetricFamily("fabula_worker_gpu_memory_bytes", "GPU memory of a worker (CUDA only)", labels=["worker", "kind"])
        for w in workers:
            done.add_metric([w.name], w.jobs_done)
            failed.add_metric([w.name], w.jobs_failed)
            cancelled.add_metric([w.name], w.jobs_cancelled)
            recovered.add_metric([w.name], w.jobs_recovered)
            steps.add_metric([w.name], w.steps_done)
            step_s.add_metric([w.name], w.step_seconds_total)
            if w.steps_done:
                last_step.add_metric([w.name], w.last_step_s)
            if w.last_wait_ms >= 0:
                wait.add_metric([w.name], w.last_wait_ms / 1000)
            for kind, value in (("allocated", w.gpu_mem_bytes), ("peak", w.gpu_mem_peak_bytes), ("total", w.gpu_mem_total_bytes)):
                if value >= 0:
                    gpu.add_metric([w.name, kind], value)
        yield from (done, failed, cancelled, recovered, steps, step_s, last_step, wait, gpu)


QUEUE_METRICS = QueueCollector()
REGISTRY.register(QUEUE_METRICS)


def bind_queue_metrics(settings: Settings) -> None:
    """Read the queue's metrics for these settings (by default: the process's FABULA_* environment)."""
    QUEUE_METRICS.bind(settings)
