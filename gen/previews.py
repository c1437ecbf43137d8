"""Each job's preview stream: small JPEG frames of the work in progress, one
entry per denoising step, bounded and expiring. Any api replica relays them;
a late joiner reads the newest entry first."""

from __future__ import annotations

import msgspec

from core.stores import Stores

MAXLEN = 16
TTL_S = 3600


class Preview(msgspec.Struct, kw_only=True):
    video_id: str
    step: int
    steps: int
    progress: int
    image: bytes  # JPEG
    content_type: str = "image/jpeg"


def preview_key(stores: Stores, video_id: str) -> str:
    return stores.key("video", video_id, "preview")


def entry_preview(video_id: str, fields: dict) -> Preview:
    """The preview of one entry of a job's preview stream (its fields as Redis returns them)."""
    return Preview(
        video_id=video_id,
        step=int(fields[b"step"]),
        steps=int(fields[b"steps"]),
        progress=int(fields[b"progress"]),
        image=fields[b"image"],
        content_type=fields.get(b"ct", b"image/jpeg").decode(),
    )


async def publish(stores: Stores, preview: Preview) -> str:
    key = preview_key(stores, preview.video_id)
    async with stores.redis.pipeline(transaction=False) as pipe:
        pipe.xadd(
            key,
            {"step": preview.step, "steps": preview.steps, "progress": preview.progress, "image": preview.image, "ct": preview.content_type},
            maxlen=MAXLEN,
            approximate=False,
        )
        pipe.expire(key, TTL_S)
        entry_id, _ = await pipe.execute()
    return entry_id.decode()


async def latest(stores: Stores, video_id: str) -> tuple[str, Preview] | None:
    rows = await stores.redis.xrevrange(preview_key(stores, video_id), count=1)
    if not rows:
        return None
    entry_id, fields = rows[0]
    return entry_id.decode(), entry_preview(video_id, fields)


async def read(stores: Stores, video_id: str, last_id: str, block_ms: int = 5000) -> list[tuple[str, Preview]]:
    """Previews after ``last_id`` (use ``latest`` first, then follow from its id)."""
    reply = await stores.redis_blocking.xread({preview_key(stores, video_id): last_id}, block=block_ms, count=MAXLEN)
    if not reply:
        return []
    return [(entry_id.decode(), entry_preview(video_id, fields)) for entry_id, fields in reply[0][1]]


async def clear(stores: Stores, video_id: str) -> None:
    """Forget a job's previews (its video was deleted)."""
    await stores.redis.delete(preview_key(stores, video_id))
