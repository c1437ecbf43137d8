"""Worker liveness: each worker's heartbeat, and reading them back.

A worker writes the hash ``{ns}:workers:{name}`` every
``worker_heartbeat_s`` (state, the job it runs, counters, step time, GPU
memory) with a TTL of three intervals, and scores its name in the sorted set
``{ns}:workers`` with the time of the beat. Readers list the names beaten
within the TTL and read their hashes; a worker that was killed simply stops
appearing once its hash expires. Names whose hash is gone are pruned from the
set as they are found.
"""

from __future__ import annotations

import time

import msgspec

from core.stores import Stores

TTL_BEATS = 3


class WorkerStatus(msgspec.Struct, kw_only=True):
    name: str
    state: str = "starting"  # starting | idle | busy | stopping
    video_id: str = ""  # the job being run ("" when idle)
    host: str = ""
    pid: int = 0
    model: str = ""
    started_at: float = 0.0  # unix seconds
    beat_at: float = 0.0  # unix seconds of this beat
    interval_s: float = 5.0
    jobs_done: int = 0
    jobs_failed: int = 0  # attempts that raised (retried or dead-lettered)
    jobs_cancelled: int = 0
    jobs_lost: int = 0  # attempts abandoned because another worker took the job over
    jobs_recovered: int = 0  # unfinished jobs Redis had lost, queued again by this worker's sweeps
    jobs_last_min: int = 0  # completed in the last 60 s
    steps_done: int = 0
    step_seconds_total: float = 0.0
    last_step_s: float = 0.0
    last_wait_ms: int = -1  # how long the last job waited in its lane
    gpu_mem_bytes: int = -1  # torch.cuda.memory_allocated(), -1 without CUDA
    gpu_mem_peak_bytes: int = -1
    gpu_mem_total_bytes: int = -1


def workers_key(stores_or_ns: Stores | str) -> str:
    ns = stores_or_ns if isinstance(stores_or_ns, str) else stores_or_ns.settings.namespace
    return f"{ns}:workers"


def worker_key(stores_or_ns: Stores | str, name: str) -> str:
    return f"{workers_key(stores_or_ns)}:{name}"


def _fields(status: WorkerStatus) -> dict[str, str]:
    return {k: str(v) for k, v in msgspec.structs.asdict(status).items()}


def _status(raw: dict) -> WorkerStatus | None:
    if not raw:
        return None
    data = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}
    try:
        return msgspec.convert(data, WorkerStatus, strict=False)
    except msgspec.ValidationError:
        return None


async def beat(stores: Stores, status: WorkerStatus) -> None:
    status.beat_at = time.time()
    ttl_ms = max(1000, int(status.interval_s * TTL_BEATS * 1000))
    key = worker_key(stores, status.name)
    async with stores.redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=_fields(status))
        pipe.pexpire(key, ttl_ms)
        pipe.zadd(workers_key(stores), {status.name: int(status.beat_at * 1000) + ttl_ms})
        await pipe.execute()


async def remove(stores: Stores, name: str) -> None:
    """A worker stopping cleanly leaves the list at once."""
    async with stores.redis.pipeline(transaction=True) as pipe:
        pipe.delete(worker_key(stores, name))
        pipe.zrem(workers_key(stores), name)
        await pipe.execute()


async def list_workers(stores: Stores) -> list[WorkerStatus]:
    """Workers alive now (their last beat has not expired), by name."""
    names = await stores.redis.zrangebyscore(workers_key(stores), int(time.time() * 1000), "+inf")
    async with stores.redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(worker_key(stores, name.decode()))
        raws = await pipe.execute()
    await stores.redis.zremrangebyscore(workers_key(stores), "-inf", int(time.time() * 1000) - 1)
    found = [_status(raw) for raw in raws]
    return sorted((s for s in found if s is not None), key=lambda s: s.name)


def list_workers_sync(client, namespace: str) -> list[WorkerStatus]:
    """``list_workers`` through a synchronous client (for Prometheus collectors); prunes nothing."""
    names = client.zrangebyscore(workers_key(namespace), int(time.time() * 1000), "+inf")
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(worker_key(namespace, name.decode()))
    found = [_status(raw) for raw in pipe.execute()]
    return sorted((s for s in found if s is not None), key=lambda s: s.name)


def gpu_memory() -> tuple[int, int, int]:
    """(allocated, peak allocated, total) bytes on the current CUDA device; -1s without one.

    Only looks at torch when it is already imported (the worker imports it
    with the pipeline), so calling this never loads CUDA by itself.
    """
    import sys

    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_available():
            return -1, -1, -1
        device = torch.cuda.current_device()
        return (
            int(torch.cuda.memory_allocated(device)),
            int(torch.cuda.max_memory_allocated(device)),
            int(torch.cuda.get_device_properties(device).total_memory),
        )
    except Exception:  # noqa: BLE001 - a driver hiccup must not stop the heartbeat
        return -1, -1, -1
