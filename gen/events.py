"""Each job's event stream: progress and status changes, bounded and
expiring, read by any api replica (a late reader sees the recent history)."""

from __future__ import annotations

import msgspec

from core.messages import JobEvent
from core.stores import Stores

MAXLEN = 200
TTL_S = 24 * 3600
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(JobEvent).decode


def events_key(stores: Stores, video_id: str) -> str:
    return stores.key("video", video_id, "events")


async def publish(stores: Stores, event: JobEvent) -> None:
    key = events_key(stores, event.video_id)
    async with stores.redis.pipeline(transaction=False) as pipe:
        pipe.xadd(key, {"e": _encode(event)}, maxlen=MAXLEN, approximate=True)
        pipe.expire(key, TTL_S)
        await pipe.execute()


async def read(stores: Stores, video_id: str, last_id: str = "0-0", block_ms: int = 5000) -> list[tuple[str, JobEvent]]:
    """Events after ``last_id``; waits up to ``block_ms`` for the first one."""
    reply = await stores.redis_blocking.xread({events_key(stores, video_id): last_id}, block=block_ms, count=100)
    if not reply:
        return []
    return [(entry_id.decode(), entry_event(fields)) for entry_id, fields in reply[0][1]]


def entry_event(fields: dict) -> JobEvent:
    """The event of one entry of a job's event stream (its fields as Redis returns them)."""
    return _decode(fields[b"e"])
