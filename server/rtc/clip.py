"""A finished clip into a preview track: the job's MP4 from the media store,
decoded off the event loop one frame at a time and shown at its own frame
rate, once. The clip is read whole into memory (clips are a few MB; a local
store's file is opened in place). A media store that fails (a backing
service down) plays nothing and is logged; the track then ends as after a
clip, so the viewer sees the end, not a frozen picture."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Iterator
from fractions import Fraction

import av

from core.media_store import LocalMediaStore, MediaStore
from server.rtc.track import PreviewTrack

log = logging.getLogger("fabula.rtc")

DEFAULT_FPS = 24


async def _source(store: MediaStore, video_id: str) -> str | io.BytesIO | None:
    """Where the clip is read from; None when it is not stored. Raises what the store raises."""
    if await store.size(video_id, "video") is None:
        return None
    if isinstance(store, LocalMediaStore):
        return str(store.path(video_id, "video"))
    data = io.BytesIO()
    async for chunk in store.read(video_id, "video"):
        data.write(chunk)
    data.seek(0)
    return data


def _frames(source: str | io.BytesIO) -> Iterator[tuple[av.VideoFrame, float]]:
    """(frame, its time in seconds from the clip's start), in order."""
    with av.open(source) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or Fraction(DEFAULT_FPS)
        for index, frame in enumerate(container.decode(stream)):
            at = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else index / float(rate)
            yield frame, at


async def play_clip(track: PreviewTrack, store: MediaStore, video_id: str) -> int:
    """Show ``video_id``'s clip in ``track`` at its frame rate; the number of
    frames shown (0 when the clip is not stored, cannot be decoded, or the
    media store fails)."""
    try:
        source = await _source(store, video_id)
    except Exception as exc:  # any failure of the backing service; the caller ends the track
        log.warning("clip not played: the media store failed", extra={"video_id": video_id, "error": f"{type(exc).__name__}: {exc}"})
        return 0
    if source is None:
        return 0
    frames = _frames(source)
    loop = asyncio.get_running_loop()
    start: float | None = None
    first_at = 0.0
    shown = 0
    try:
        while not track.finished and track.readyState == "live":
            item = await asyncio.to_thread(next, frames, None)
            if item is None:
                break
            frame, at = item
            if start is None:
                start, first_at = loop.time(), at
            delay = start + (at - first_at) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            track.show(frame)
            shown += 1
    except (av.FFmpegError, OSError, ValueError):
        pass  # a clip that will not decode is not shown; the track still ends cleanly
    finally:
        with contextlib.suppress(ValueError):  # a decode still running in its thread after a cancel
            await asyncio.to_thread(frames.close)
    return shown
