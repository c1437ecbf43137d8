"""A finished clip played into a preview track (``server.rtc.clip``): every
frame of a stored MP4, in order; nothing, and a warning in the log, when
the media store fails (a local file that links to itself, an S3 endpoint
that refuses connections), never an exception out of the track's task."""

from __future__ import annotations

import asyncio
import logging
import socket

import numpy as np
import pytest

from core.media_store import LocalMediaStore, S3MediaStore
from gen.encode import encode_mp4
from server.rtc.clip import play_clip
from server.rtc.track import PreviewTrack

VID = "video_01js3rtcclipaaaaaaaaaaaaa"


def clip(tmp_path, frames: int = 6):
    """A real MP4 of ``frames`` frames, each a different grey."""
    pictures = np.stack([np.full((32, 48, 3), 30 * i, np.uint8) for i in range(frames)])
    path = tmp_path / "clip.mp4"
    encode_mp4(pictures, 24, path)
    return path


async def drain(track: PreviewTrack) -> None:
    """Take what the track sends (a sender's part) until it is finished."""
    while not track.finished:
        try:
            await asyncio.wait_for(track.recv(), 0.5)
        except TimeoutError:
            pass


async def test_a_stored_clip_is_played_frame_by_frame(tmp_path):
    store = LocalMediaStore(tmp_path / "media")
    await store.put_file(VID, "video", clip(tmp_path))
    track = PreviewTrack(repeat_s=30.0)
    taker = asyncio.create_task(drain(track))
    try:
        assert await play_clip(track, store, VID) == 6
        assert await play_clip(track, store, "video_01js3rtcclipunknownaaaaa") == 0  # not stored: nothing
    finally:
        track.finish()
        taker.cancel()


async def test_a_local_store_that_fails_plays_nothing_and_says_so(tmp_path, caplog):
    store = LocalMediaStore(tmp_path / "media")
    await store.put_file(VID, "video", clip(tmp_path))
    path = store.path(VID, "video")
    path.unlink()
    path.symlink_to(path.name)  # reading it is ELOOP: the store fails, the file is not missing
    track = PreviewTrack(repeat_s=30.0)
    with caplog.at_level(logging.WARNING, logger="fabula.rtc"):
        assert await play_clip(track, store, VID) == 0
    failed = [r for r in caplog.records if r.name == "fabula.rtc" and "media store failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].video_id == VID and "OSError" in failed[0].error, caplog.records
    track.stop()


async def test_an_s3_store_that_refuses_connections_plays_nothing(monkeypatch, caplog):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as sock:  # a port nothing listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3MediaStore("clips", endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(Exception):
        await store.size(VID, "video")  # the store itself fails ...
    track = PreviewTrack(repeat_s=30.0)
    with caplog.at_level(logging.WARNING, logger="fabula.rtc"):
        assert await play_clip(track, store, VID) == 0  # ... the clip is not played, and nothing escapes
    assert any(r.name == "fabula.rtc" and r.video_id == VID for r in caplog.records), caplog.records
    track.stop()
