"""The job queue: one Redis stream read through a consumer group.

Delivery is at least once: an entry stays pending until a worker acknowledges
it, and a worker that died leaves it to be claimed by another after
``visibility_ms`` (XAUTOCLAIM). Effects are made exactly once by the job
document's status and by outputs keyed on the job id."""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import ResponseError

from core.stores import Stores

GROUP = "workers"


@dataclass(frozen=True)
class Entry:
    entry_id: str
    video_id: str


def stream_key(stores: Stores) -> str:
    return stores.key("jobs")


async def ensure_group(stores: Stores) -> None:
    try:
        await stores.redis.xgroup_create(stream_key(stores), GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def enqueue(stores: Stores, video_id: str) -> str:
    entry_id = await stores.redis.xadd(stream_key(stores), {"video_id": video_id})
    return entry_id.decode()


def _entries(raw) -> list[Entry]:
    out = []
    for entry_id, fields in raw:
        if fields is None:  # deleted while pending
            continue
        out.append(Entry(entry_id.decode(), fields[b"video_id"].decode()))
    return out


async def read_new(stores: Stores, consumer: str, count: int = 1, block_ms: int = 1000) -> list[Entry]:
    reply = await stores.redis.xreadgroup(GROUP, consumer, {stream_key(stores): ">"}, count=count, block=block_ms)
    if not reply:
        return []
    return _entries(reply[0][1])


async def claim_stale(stores: Stores, consumer: str, visibility_ms: int, count: int = 1) -> list[Entry]:
    """Entries another consumer took and did not acknowledge within ``visibility_ms``."""
    reply = await stores.redis.xautoclaim(stream_key(stores), GROUP, consumer, min_idle_time=visibility_ms, start_id="0-0", count=count)
    return _entries(reply[1])


async def ack(stores: Stores, entry_id: str) -> None:
    await stores.redis.xack(stream_key(stores), GROUP, entry_id)


async def depth(stores: Stores) -> dict[str, int]:
    """Entries not yet delivered (lag) and delivered but unacknowledged (pending)."""
    groups = await stores.redis.xinfo_groups(stream_key(stores))
    for group in groups:
        if group["name"] in (GROUP, GROUP.encode()):
            return {"pending": int(group["pending"]), "lag": int(group.get("lag") or 0)}
    return {"pending": 0, "lag": 0}
