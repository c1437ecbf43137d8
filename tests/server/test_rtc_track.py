"""The preview track on its own (``server.rtc.track``): latest wins, each
preview followed at once by its repeat, the last picture repeated while
nothing new comes, and a clean end after ``finish``."""

from __future__ import annotations

import asyncio
import io
import time

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError
from PIL import Image

from server.rtc.track import PreviewTrack, image_frame


def jpeg(rgb, size=(33, 21)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, rgb).save(out, format="JPEG", quality=95)
    return out.getvalue()


def colour(frame: av.VideoFrame) -> tuple[int, ...]:
    return tuple(int(v) for v in frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0).round())


def test_pictures_are_cropped_to_even_sides():
    frame = image_frame(jpeg((200, 10, 10)))
    assert (frame.width, frame.height) == (32, 20)


async def test_a_preview_then_its_repeat_at_once_then_the_newest_wins():
    track = PreviewTrack(repeat_s=30.0)
    track.show_image(jpeg((250, 0, 0)))
    first = await asyncio.wait_for(track.recv(), 1)
    first_pts, first_colour = first.pts, colour(first)
    repeat = await asyncio.wait_for(track.recv(), 1)  # not after repeat_s: at once
    assert colour(repeat) == first_colour and repeat.pts > first_pts
    track.show_image(jpeg((0, 250, 0)))
    track.show_image(jpeg((0, 0, 250)))  # before the sender took the green one: it replaces it
    newest = await asyncio.wait_for(track.recv(), 1)
    assert np.argmax(colour(newest)) == 2 and track.dropped == 1
    await asyncio.wait_for(track.recv(), 1)  # its repeat
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(track.recv(), 0.3)  # then nothing until something new comes
    track.stop()


async def test_the_last_picture_is_repeated_while_nothing_new_comes():
    track = PreviewTrack(repeat_s=0.2)
    track.show_image(jpeg((250, 250, 0)))
    await track.recv()
    await track.recv()
    started = time.monotonic()
    again = await asyncio.wait_for(track.recv(), 2)
    assert time.monotonic() - started >= 0.15 and np.argmax(colour(again)) in (0, 1)
    track.stop()


async def test_finish_sends_what_waits_then_ends():
    track = PreviewTrack(repeat_s=30.0)
    frame = image_frame(jpeg((10, 10, 250)))
    track.show(frame)  # a clip's frame: no repeat of its own
    track.finish()
    track.show(frame)  # ignored once finished
    assert [colour(await track.recv()) for _ in range(2)] == [colour(frame)] * 2  # the last frame and its repeat
    with pytest.raises(MediaStreamError):
        await track.recv()
    assert track.readyState == "ended" and track.ended.is_set() and track.shown == 1
