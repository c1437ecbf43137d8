"""The video track of one live preview: the pictures it is given, sent as
they come.

Whoever owns the track (``server.rtc.source``) calls ``show_image`` with
each preview (a JPEG or PNG) and ``show`` with ready frames (a finished
clip), then ``finish``. The sender takes frames with ``recv``:

- *latest wins*: one waiting slot; a frame that arrives before the sender
  took the previous one replaces it (``dropped`` counts them), so a slow
  encoder never makes the track hold more than one frame;
- a new frame is returned as soon as it arrives (no pacing to a frame
  rate: a denoising step comes when it comes);
- a preview (``show_image``) is followed at once by one repeat of itself:
  some receivers (aiortc's jitter buffer) hand a frame to their decoder
  only when the next frame's first packet arrives, and previews come
  seconds apart; the repeat shows each step without waiting for the next
  (bench/preview_rtc.py). A clip's frames follow each other anyway;
- while nothing new arrives the last frame is sent again every
  ``repeat_s``, so a late or lossy receiver gets a picture (and a key
  frame it asked for) without waiting for the next step;
- after ``finish`` the waiting frame (or the last one) still goes out,
  with its repeat, then the track ends (``recv`` raises
  ``MediaStreamError``; the peer's sender stops).

Timestamps are the wall clock since the first frame, on the 90 kHz video
clock. Pictures are cropped to even sides (4:2:0 needs them).

No web framework and no database here: any process can send a track."""

from __future__ import annotations

import asyncio
import fractions
import io
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from PIL import Image

CLOCK_RATE = 90_000
TIME_BASE = fractions.Fraction(1, CLOCK_RATE)
REPEAT_S = 1.0


def image_frame(data: bytes) -> av.VideoFrame:
    """A video frame of an encoded picture (JPEG, PNG...), cropped to even sides."""
    with Image.open(io.BytesIO(data)) as img:
        picture = img.convert("RGB")
    width, height = picture.size
    even = (max(2, width - width % 2), max(2, height - height % 2))
    if even != picture.size:
        picture = picture.crop((0, 0, *even)) if width >= 2 and height >= 2 else picture.resize(even)
    return av.VideoFrame.from_image(picture)


class PreviewTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, repeat_s: float = REPEAT_S) -> None:
        super().__init__()
        self.repeat_s = repeat_s
        self._pending: tuple[av.VideoFrame, bool] | None = None
        self._last: av.VideoFrame | None = None
        self._wake = asyncio.Event()
        self._finished = False
        self._follow_up = False  # send the last frame again at once (it was a preview)
        self._start: float | None = None
        self._last_pts = -1
        self.ended = asyncio.Event()  # set once the track has ended (finished and drained, or stopped)
        self.shown = 0  # frames given to the track
        self.sent = 0  # frames the sender took (repeats included)
        self.dropped = 0  # replaced by a newer one before the sender took them

    # -- the owner's side ------------------------------------------------

    def show(self, frame: av.VideoFrame, *, follow_up: bool = False) -> None:
        """Send ``frame`` next (replacing one still waiting); ``follow_up``: then once more at once."""
        if self._finished or self.readyState != "live":
            return
        self.shown += 1
        if self._pending is not None:
            self.dropped += 1
        self._pending = (frame, follow_up)
        self._wake.set()

    def show_image(self, data: bytes) -> None:
        """Send a picture (a preview), followed by its repeat."""
        self.show(image_frame(data), follow_up=True)

    def finish(self) -> None:
        """No more frames: the waiting one goes out, then once more (so that
        every receiver shows it), then the track ends."""
        if self._pending is not None:
            self._pending = (self._pending[0], True)
        elif self._last is not None:
            self._follow_up = True
        self._finished = True
        self._wake.set()

    @property
    def finished(self) -> bool:
        return self._finished

    # -- the sender's side -----------------------------------------------

    async def recv(self) -> av.VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._pending is not None:
                (frame, self._follow_up), self._pending = self._pending, None
                self._last = frame
                return self._stamp(frame)
            if self._follow_up and self._last is not None:
                self._follow_up = False
                return self._stamp(self._last)
            if self._finished:
                self.stop()
                raise MediaStreamError
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.repeat_s)
            except TimeoutError:
                if self._last is not None and not self._finished:
                    return self._stamp(self._last)

    def _stamp(self, frame: av.VideoFrame) -> av.VideoFrame:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        pts = max(self._last_pts + 1, int((now - self._start) * CLOCK_RATE))
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = TIME_BASE
        self.sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self._pending = None
        self.ended.set()
        self._wake.set()
