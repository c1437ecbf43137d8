"""WebSocket handlers for video jobs: subscribe to one of my videos and get
its state, then its progress and status events until it ends."""

from __future__ import annotations

import msgspec

from gen import events, jobs
from server.videos_schema import video_object
from server.ws import protocol as proto
from server.ws.connection import Connection


def _job_key(video_id: str) -> str:
    return f"job:{video_id}"


async def on_subscribe(conn: Connection, msg: proto.Message) -> None:
    sub = msgspec.convert(msg.data, proto.Subscribe)
    job = await jobs.get_job(conn.stores, sub.video_id)
    if job is None or job.owner_id != conn.user.id:
        conn.send(proto.error("video_not_found", f"no video {sub.video_id!r}", msg.id))
        return
    conn.send(proto.out("subscribed", {"video_id": job.id}, msg.id))
    conn.start_task(_job_key(job.id), follow_job(conn, job))


async def on_unsubscribe(conn: Connection, msg: proto.Message) -> None:
    sub = msgspec.convert(msg.data, proto.Subscribe)
    conn.cancel_task(_job_key(sub.video_id))
    conn.send(proto.out("unsubscribed", {"video_id": sub.video_id}, msg.id))


def _send_video(conn: Connection, job: jobs.Job) -> None:
    conn.send(proto.out("video", msgspec.to_builtins(video_object(job))))


async def follow_job(conn: Connection, job: jobs.Job) -> None:
    """The job's current state, then every event until it completes or fails."""
    _send_video(conn, job)
    if job.done:
        return
    last_id = "0-0"
    while True:
        batch = await events.read(conn.stores, job.id, last_id, block_ms=5000)
        if not batch:
            current = await jobs.get_job(conn.stores, job.id)
            if current is None or current.done:  # events expired or job deleted
                if current is not None:
                    _send_video(conn, current)
                return
            continue
        for last_id, event in batch:
            conn.send(proto.out(event.type, msgspec.to_builtins(event)))
            if event.type == "status" and event.status in jobs.TERMINAL:
                final = await jobs.get_job(conn.stores, job.id)
                if final is not None:
                    _send_video(conn, final)
                return


HANDLERS = {"subscribe": on_subscribe, "unsubscribe": on_unsubscribe}
