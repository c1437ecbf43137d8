"""WebSocket handlers for video jobs: subscribe to one of my videos and get
its state, then its progress and status events until it ends; with
``previews: true`` also its live preview frames (``server.ws.previews``).

Events reach a process once, whatever the number of its subscribers: each
followed job is a ``JobTopic`` of the process's ``server.ws.streams`` reader,
which keeps the messages sent so far (a later subscriber gets them first,
as it would by reading the stream from its start) and, once the job ends,
reads the final video once and sends it to every subscriber.

A connection holds at most ``ws_max_subscriptions`` (a setting) jobs at
once; one more is answered ``too_many_subscriptions``.

Message data (docs/WEBSOCKET.md): ``status`` is ``{video_id, status,
progress, error?}``; ``progress`` is ``{video_id, status, progress, step,
steps}`` plus ComfyUI's ``value``/``max``/``prompt_id`` for the same
numbers, so clients written for ComfyUI's ``progress`` messages read them as
they are."""

from __future__ import annotations

import asyncio
from collections import deque

import msgspec

from core.messages import JobEvent
from core.stores import Stores
from gen import events, jobs
from server.videos_schema import video_object
from server.ws import previews as ws_previews
from server.ws import protocol as proto
from server.ws import streams
from server.ws.connection import Connection

JOB_TASK_PREFIX = "job:"


def _job_key(video_id: str) -> str:
    return JOB_TASK_PREFIX + video_id


def subscriptions(conn: Connection) -> int:
    """How many jobs ``conn`` follows now."""
    return sum(1 for key in conn.tasks if key.startswith(JOB_TASK_PREFIX))


async def on_subscribe(conn: Connection, msg: proto.Message) -> None:
    sub = msgspec.convert(msg.data, proto.Subscribe)
    job = await jobs.get_job(conn.stores, sub.video_id)
    if job is None or job.owner_id != conn.user.id:
        conn.send(proto.error("video_not_found", f"no video {sub.video_id!r}", msg.id))
        return
    limit = conn.stores.settings.ws_max_subscriptions
    if _job_key(job.id) not in conn.tasks and subscriptions(conn) >= limit:
        conn.send(proto.error("too_many_subscriptions", f"a connection follows at most {limit} videos at once; unsubscribe from one", msg.id))
        return
    conn.send(proto.out("subscribed", {"video_id": job.id, **({"previews": True} if sub.previews else {})}, msg.id))
    conn.start_task(_job_key(job.id), follow_job(conn, job))
    if sub.previews and not job.done:
        conn.start_task(ws_previews.task_key(job.id), ws_previews.follow_previews(conn, job.id))
    elif not sub.previews:  # subscribing again without previews stops them (a client whose WebRTC track took over)
        conn.cancel_task(ws_previews.task_key(job.id))


async def on_unsubscribe(conn: Connection, msg: proto.Message) -> None:
    sub = msgspec.convert(msg.data, proto.Subscribe)
    conn.cancel_task(_job_key(sub.video_id))
    conn.cancel_task(ws_previews.task_key(sub.video_id))
    data: dict = {"video_id": sub.video_id}
    counted = ws_previews.stats(conn, sub.video_id)
    if counted is not None:
        data["previews"] = msgspec.to_builtins(counted)
    conn.send(proto.out("unsubscribed", data, msg.id))


def event_data(event: JobEvent) -> dict:
    """The data of a ``status`` or ``progress`` message (the type is the message's own)."""
    data: dict = {"video_id": event.video_id, "status": event.status, "progress": event.progress}
    if event.type == "progress":
        data.update(step=event.step, steps=event.steps, value=event.step, max=event.steps, prompt_id=event.video_id)
    elif event.error is not None:
        data["error"] = event.error
    return data


def _video_message(job: jobs.Job) -> bytes:
    return proto.out("video", msgspec.to_builtins(video_object(job)))


class _Subscriber:
    __slots__ = ("conn", "done")

    def __init__(self, conn: Connection):
        self.conn = conn
        self.done = asyncio.Event()


class JobTopic(streams.Topic):
    """One job's event stream, followed by this process's subscribers."""

    def __init__(self, stores: Stores, video_id: str):
        super().__init__(events.events_key(stores, video_id))
        self.stores = stores
        self.video_id = video_id
        self.sent: deque[bytes] = deque(maxlen=events.MAXLEN)
        self.final: bytes | None = None
        self.ending = False

    def join(self, sub: _Subscriber) -> None:
        for message in self.sent:  # what earlier subscribers got, as a read from the stream's start would
            sub.conn.send(message)
        self.subscribers.add(sub)

    def deliver(self, entries: list[tuple[bytes, dict]]) -> None:
        if self.ending:
            return
        for _, fields in entries:
            event = events.entry_event(fields)
            message = proto.out(event.type, event_data(event))
            self.sent.append(message)
            for sub in self.subscribers:
                sub.conn.send(message)
            if event.type == "status" and event.status in jobs.TERMINAL:
                self.ending = True
                streams.reader(self.stores).run_soon(self._end())
                return

    async def _end(self) -> None:
        try:
            final = await jobs.get_job(self.stores, self.video_id)
            self.final = _video_message(final) if final is not None else None
        finally:
            streams.reader(self.stores).end(self)

    async def over(self) -> bool:
        """Quiet for a while: the job may have ended with its events expired, or been deleted."""
        current = await jobs.get_job(self.stores, self.video_id)
        if current is None or current.done:
            self.final = _video_message(current) if current is not None else None
            return True
        return False

    def close(self) -> None:
        super().close()
        for sub in self.subscribers:
            if self.final is not None:
                sub.conn.send(self.final)
            sub.done.set()


async def follow_job(conn: Connection, job: jobs.Job) -> None:
    """The job's current state, then every event until it completes or fails."""
    conn.send(_video_message(job))
    if job.done:
        return
    reader = streams.reader(conn.stores)
    topic = reader.topic(events.events_key(conn.stores, job.id), lambda: JobTopic(conn.stores, job.id))
    sub = _Subscriber(conn)
    topic.join(sub)
    try:
        await sub.done.wait()
    finally:
        reader.leave(topic, sub)


HANDLERS = {"subscribe": on_subscribe, "unsubscribe": on_unsubscribe}
