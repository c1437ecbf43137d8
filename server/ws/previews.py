"""Live previews on the WebSocket: binary frames of a running job's latest
denoising step, relayed from the job's preview stream in Redis (so any api
replica serves any job).

A client asks for them with ``subscribe {"video_id", "previews": true}``
(see ``server.ws.jobs``). It gets the newest preview at once (a late joiner
sees the picture of the step the job is at), then each new one. Previews are
*latest-wins*: while a slow client still has more than ``MAX_QUEUED``
messages waiting in its outbox, a new preview waits in a single slot, and a
newer one replaces it (counted as dropped). A client that stops reading is
therefore never cut off for previews and never makes the server hold more
than a couple of them; when it reads again it gets the newest step.

Frame layout (all integers big-endian; documented in docs/WEBSOCKET.md)::

    offset  size  field
    0       4     event type   1 = preview image (as ComfyUI's PREVIEW_IMAGE)
    4       4     format       1 = JPEG, 2 = PNG (as ComfyUI)
    8       1     n            length of the video id in bytes
    9       n     video id     ASCII
    9+n     4     step         denoising step, 1-based
    13+n    4     steps        steps in the run
    17+n    ...   image        the encoded picture, to the end of the frame
"""

from __future__ import annotations

import asyncio
import struct
import weakref

import msgspec

from gen import jobs, previews
from server.ws.connection import Connection

EVENT_PREVIEW = 1
FORMATS = {"image/jpeg": 1, "image/png": 2}
CONTENT_TYPES = {code: name for name, code in FORMATS.items()}
_HEAD = struct.Struct(">IIB")
_STEPS = struct.Struct(">II")

# Messages allowed in a client's outbox before a new preview waits for it to drain.
MAX_QUEUED = 2
# How often a waiting preview retries, and how often the job's end is checked.
RETRY_MS = 100
CHECK_S = 5.0


class PreviewFrame(msgspec.Struct, frozen=True, kw_only=True):
    event: int
    format: int
    video_id: str
    step: int
    steps: int
    image: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.format, "application/octet-stream")


def encode_frame(preview: previews.Preview) -> bytes:
    vid = preview.video_id.encode("ascii")
    if len(vid) > 255:
        raise ValueError("video ids in preview frames are at most 255 bytes")
    fmt = FORMATS.get(preview.content_type, FORMATS["image/jpeg"])
    return _HEAD.pack(EVENT_PREVIEW, fmt, len(vid)) + vid + _STEPS.pack(preview.step, preview.steps) + preview.image


def decode_frame(data: bytes) -> PreviewFrame:
    """Parse a binary frame (what a client does); ValueError if it is too short."""
    if len(data) < _HEAD.size:
        raise ValueError("frame shorter than its header")
    event, fmt, n = _HEAD.unpack_from(data, 0)
    at = _HEAD.size + n
    if len(data) < at + _STEPS.size:
        raise ValueError("frame shorter than its header")
    step, steps = _STEPS.unpack_from(data, at)
    return PreviewFrame(
        event=event, format=fmt, video_id=data[_HEAD.size : at].decode("ascii"), step=step, steps=steps, image=data[at + _STEPS.size :]
    )


class PreviewStats(msgspec.Struct, kw_only=True):
    sent: int = 0  # frames queued for the client
    dropped: int = 0  # superseded by a newer one before the client could take them


_stats: weakref.WeakKeyDictionary[Connection, dict[str, PreviewStats]] = weakref.WeakKeyDictionary()


def task_key(video_id: str) -> str:
    return f"previews:{video_id}"


def stats(conn: Connection, video_id: str) -> PreviewStats | None:
    return _stats.get(conn, {}).get(video_id)


class _Relay:
    """One subscription's single waiting slot and its counters."""

    def __init__(self, conn: Connection, video_id: str) -> None:
        self.conn = conn
        self.pending: previews.Preview | None = None
        self.stats = _stats.setdefault(conn, {})[video_id] = PreviewStats()

    def offer(self, preview: previews.Preview, superseded: int = 0) -> None:
        self.stats.dropped += superseded + (self.pending is not None)
        self.pending = preview
        self.flush()

    def flush(self) -> None:
        if self.pending is None or self.conn.outbox.qsize() > MAX_QUEUED:
            return
        if self.conn.send_binary(encode_frame(self.pending), droppable=True):
            self.stats.sent += 1
        else:
            self.stats.dropped += 1
        self.pending = None


async def follow_previews(conn: Connection, video_id: str) -> None:
    """Relay ``video_id``'s previews to ``conn`` until the job ends (or is gone)."""
    stores = conn.stores
    loop = asyncio.get_running_loop()
    relay = _Relay(conn, video_id)
    newest = await previews.latest(stores, video_id)
    last_id = "0-0"
    if newest is not None:
        last_id, preview = newest
        relay.offer(preview)
    next_check = loop.time() + CHECK_S
    while True:
        batch = await previews.read(stores, video_id, last_id, block_ms=RETRY_MS if relay.pending else int(CHECK_S * 1000))
        if batch:
            last_id = batch[-1][0]
            relay.offer(batch[-1][1], superseded=len(batch) - 1)
        else:
            relay.flush()
        if not batch and loop.time() >= next_check:
            next_check = loop.time() + CHECK_S
            job = await jobs.get_job(stores, video_id)
            if job is None or job.done:
                return
