"""Feeding a preview track from Redis: the job's previews while it runs,
then its finished clip.

The previews come through the process's one stream reader
(``server.ws.streams``) as the WebSocket's do: the track joins the job's
``PreviewTopic`` (the newest preview at once, then each new one), so one
read per process serves every socket and every track of a job, and any api
replica serves any job. The job's end is heard on its ``JobTopic`` (the
terminal status event), or when the preview topic finds the job over after
a quiet spell. A completed job's clip is then played once
(``server.rtc.clip``); a failed one's track just ends."""

from __future__ import annotations

import asyncio
import logging

from core.media_store import MediaStore
from core.stores import Stores
from gen import events, jobs, previews
from server.rtc.clip import play_clip
from server.rtc.track import PreviewTrack
from server.ws import streams
from server.ws.jobs import JobTopic
from server.ws.previews import PreviewTopic

log = logging.getLogger("fabula.rtc")


class _TrackRelay:
    """A preview topic's subscriber that shows each preview in a track."""

    def __init__(self, track: PreviewTrack) -> None:
        self.track = track
        self.done = asyncio.Event()

    def offer(self, preview: previews.Preview, superseded: int = 0) -> None:
        try:
            self.track.show_image(preview.image)
        except Exception:  # a picture PIL cannot read: skip it, keep the track
            log.warning("preview picture not shown", extra={"video_id": preview.video_id, "step": preview.step})

    def stop(self) -> None:
        self.done.set()


class _JobEnd:
    """A job topic's subscriber that only waits for the job's end (the topic
    sends its messages to ``conn.send``; this one ignores them)."""

    def __init__(self) -> None:
        self.conn = self
        self.done = asyncio.Event()

    def send(self, message: bytes) -> None:
        pass


async def follow_job_previews(stores: Stores, job_id: str, track: PreviewTrack) -> None:
    """Show ``job_id``'s previews in ``track`` until the job ends (or is gone)."""
    reader = streams.reader(stores)
    preview_topic = reader.topic(previews.preview_key(stores, job_id), lambda: PreviewTopic(stores, job_id))
    job_topic = reader.topic(events.events_key(stores, job_id), lambda: JobTopic(stores, job_id))
    relay, end = _TrackRelay(track), _JobEnd()
    preview_topic.join(relay)
    job_topic.join(end)
    waits = [asyncio.ensure_future(relay.done.wait()), asyncio.ensure_future(end.done.wait()), asyncio.ensure_future(track.ended.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        reader.leave(preview_topic, relay)
        reader.leave(job_topic, end)


async def feed_track(stores: Stores, media: MediaStore, job_id: str, track: PreviewTrack) -> None:
    """The job's previews while it runs, then its clip if it completed; the track ends after."""
    try:
        job = await jobs.get_job(stores, job_id)
        if job is not None and not job.done:
            await follow_job_previews(stores, job_id, track)
            job = await jobs.get_job(stores, job_id)
        if job is not None and job.status == "completed" and track.readyState == "live":
            await play_clip(track, media, job_id)
    finally:
        track.finish()
