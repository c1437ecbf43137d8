"""Live previews on the WebSocket: binary frames of a running job's latest
denoising step, relayed from the job's preview stream in Redis (so any api
replica serves any job). A process reads each followed job's previews once
(a ``PreviewTopic`` of its ``server.ws.streams`` reader) and offers each to
every subscriber.

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

from core.stores import Stores
from gen import jobs, previews
from server.ws import streams
from server.ws.connection import Connection

EVENT_PREVIEW = 1
FORMATS = {"image/jpeg": 1, "image/png": 2}
CONTENT_TYPES = {code: name for name, code in FORMATS.items()}
_HEAD = struct.Struct(">IIB")
_STEPS = struct.Struct(">II")

# Messages allowed in a client's outbox before a new preview waits for it to drain.
MAX_QUEUED = 2
# How often a waiting preview retries (the job's end is checked by server.ws.streams).
RETRY_MS = 100


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
        self.done = asyncio.Event()
        self._retry: asyncio.TimerHandle | None = None

    def offer(self, preview: previews.Preview, superseded: int = 0) -> None:
        self.stats.dropped += superseded + (self.pending is not None)
        self.pending = preview
        self.flush()

    def flush(self) -> None:
        self._retry = None
        if self.pending is None or self.done.is_set():
            return
        if self.conn.outbox.qsize() > MAX_QUEUED:  # try again soon: the client may have read by then
            self._retry = asyncio.get_running_loop().call_later(RETRY_MS / 1000, self.flush)
            return
        if self.conn.send_binary(encode_frame(self.pending), droppable=True):
            self.stats.sent += 1
        else:
            self.stats.dropped += 1
        self.pending = None

    def stop(self) -> None:
        self.done.set()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None


class PreviewTopic(streams.Topic):
    """One job's preview stream, followed by this process's subscribers: the
    newest preview is kept for the next to join, and every new one is
    offered to each subscriber's slot."""

    def __init__(self, stores: Stores, video_id: str):
        super().__init__(previews.preview_key(stores, video_id))
        self.stores = stores
        self.video_id = video_id
        self.latest: previews.Preview | None = None

    def join(self, relay: _Relay) -> None:
        if self.latest is not None:
            relay.offer(self.latest)
        self.subscribers.add(relay)

    def deliver(self, entries: list[tuple[bytes, dict]]) -> None:
        first = self.latest is None  # the first read takes the stream as it is: only its newest entry is news
        self.latest = previews.entry_preview(self.video_id, entries[-1][1])
        superseded = 0 if first else len(entries) - 1
        for relay in self.subscribers:
            relay.offer(self.latest, superseded)

    async def over(self) -> bool:
        job = await jobs.get_job(self.stores, self.video_id)
        return job is None or job.done

    def close(self) -> None:
        super().close()
        for relay in self.subscribers:
            relay.stop()


async def follow_previews(conn: Connection, video_id: str) -> None:
    """Relay ``video_id``'s previews to ``conn`` until the job ends (or is gone)."""
    reader = streams.reader(conn.stores)
    topic = reader.topic(previews.preview_key(conn.stores, video_id), lambda: PreviewTopic(conn.stores, video_id))
    relay = _Relay(conn, video_id)
    topic.join(relay)
    try:
        await relay.done.wait()
    finally:
        relay.stop()
        reader.leave(topic, relay)
