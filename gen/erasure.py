"""What gen keeps in Redis about a user or a video after its job document
is gone, erased when an account is deleted: the owner's entries on the
dead-letter stream and a deleted video's event, preview and cancel keys."""

from __future__ import annotations

from core.stores import Stores
from gen import cancel, events, previews, queue

PAGE = 500


async def forget_video(stores: Stores, video_id: str) -> None:
    await stores.redis.delete(events.events_key(stores, video_id), previews.preview_key(stores, video_id), cancel.cancel_key(stores, video_id))


async def forget_owner(stores: Stores, owner_id: str) -> int:
    """Drop ``owner_id``'s jobs from the dead-letter stream; returns how many."""
    key, start, removed = queue.dead_key(stores), "-", 0
    owner = owner_id.encode()
    while rows := await stores.redis.xrange(key, min=start, count=PAGE):
        mine = [entry_id for entry_id, fields in rows if fields.get(b"owner") == owner]
        if mine:
            removed += await stores.redis.xdel(key, *mine)
        if len(rows) < PAGE:
            break
        start = "(" + rows[-1][0].decode()
    return removed
