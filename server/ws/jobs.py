"""WebSocket handlers for video jobs: subscribe to one of my videos and get
its state, then its progress and status events until it ends; with
``previews: true`` also its live preview frames (``server.ws.previews``).

Progress events carry ComfyUI's ``value``/``max``/``prompt_id`` names beside
Fabula's own (``step``/``steps``/``video_id``), so clients written for
ComfyUI's ``progress`` messages read them as they are."""

from __future__ import annotations

import msgspec

from gen import events, jobs
from server.videos_schema import video_object
from server.ws import previews as ws_previews
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
    conn.send(proto.out("subscribed", {"video_id": job.id, **({"previews": True} if sub.previews else {})}, msg.id))
    conn.start_task(_job_key(job.id), follow_job(conn, job))
    if sub.previews and not job.done:
        conn.start_task(ws_previews.task_key(job.id), ws_previews.follow_previews(conn, job.id))


async def on_unsubscribe(conn: Connection, msg: proto.Message) -> None:
    sub = msgspec.convert(msg.data, proto.Subscribe)
    conn.cancel_task(_job_key(sub.video_id))
    conn.cancel_task(ws_previews.task_key(sub.video_id))
    data: dict = {"video_id": sub.video_id}
    counted = ws_previews.stats(conn, sub.video_id)
    if counted is not None:
        data["previews"] = msgspec.to_builtins(counted)
    conn.send(proto.out("unsubscribed", data, msg.id))


def _event_data(event) -> dict:
    data = msgspec.to_builtins(event)
    if event.type == "progress":  # ComfyUI's names for the same numbers
        data.update(value=event.step, max=event.steps, prompt_id=event.video_id)
    return data


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
            conn.send(proto.out(event.type, _event_data(event)))
            if event.type == "status" and event.status in jobs.TERMINAL:
                final = await jobs.get_job(conn.stores, job.id)
                if final is not None:
                    _send_video(conn, final)
                return


HANDLERS = {"subscribe": on_subscribe, "unsubscribe": on_unsubscribe}
