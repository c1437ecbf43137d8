"""What a copy of a video goes through on its way elsewhere: the
transformations the marks are measured against (``bench/provenance.py``,
the tests).

Each attack takes the frames of the served video (uint8 RGB, (n, h, w, 3))
and its frame rate, and returns the frames a reader would decode from the
copy. All but ``none`` end with an H.264 encode (CRF 23 unless the attack
is the re-encode itself), as an upload elsewhere would.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

Attack = Callable[[np.ndarray, int], np.ndarray]

UPLOAD_CRF = 23


def h264(frames: np.ndarray, fps: int, crf: int = UPLOAD_CRF, preset: str = "veryfast") -> bytes:
    """``frames`` as an H.264 MP4 at ``crf`` (odd sides trimmed to even)."""
    import av

    frames = np.asarray(frames)
    _, h, w, _ = frames.shape
    h2, w2 = h - h % 2, w - w % 2
    with tempfile.TemporaryDirectory(prefix="fabula-attack-") as tmp:
        path = Path(tmp) / "copy.mp4"
        with av.open(str(path), "w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": preset})
            stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
            stream.time_base = Fraction(1, fps)
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h2, :w2]), format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path.read_bytes()


def decode(data: bytes) -> np.ndarray:
    import av

    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def reencode(frames: np.ndarray, fps: int, crf: int = UPLOAD_CRF) -> np.ndarray:
    return decode(h264(frames, fps, crf))


def _resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def none(frames: np.ndarray, fps: int) -> np.ndarray:
    return frames


def crf28(frames: np.ndarray, fps: int) -> np.ndarray:
    """Re-encoded with H.264 at CRF 28."""
    return reencode(frames, fps, crf=28)


def downscale50(frames: np.ndarray, fps: int) -> np.ndarray:
    """Scaled to half the width and height, then re-encoded."""
    _, h, w, _ = frames.shape
    return reencode(_resize(frames, max(2, w // 2), max(2, h // 2)), fps)


def crop10(frames: np.ndarray, fps: int) -> np.ndarray:
    """10% cut from the width and the height (5% from each side), then re-encoded."""
    _, h, w, _ = frames.shape
    dy, dx = round(h * 0.05), round(w * 0.05)
    return reencode(frames[:, dy : h - dy, dx : w - dx], fps)


def crop10_corner(frames: np.ndarray, fps: int) -> np.ndarray:
    """10% cut from the right and the bottom, then re-encoded."""
    _, h, w, _ = frames.shape
    return reencode(frames[:, : round(h * 0.9), : round(w * 0.9)], fps)


def slow05(frames: np.ndarray, fps: int) -> np.ndarray:
    """Half speed: every frame shown twice."""
    return reencode(np.repeat(frames, 2, axis=0), fps)


def fast2(frames: np.ndarray, fps: int) -> np.ndarray:
    """Double speed: every other frame dropped."""
    return reencode(frames[::2], fps)


def screen_recording(frames: np.ndarray, fps: int) -> np.ndarray:
    """As a screen recorder would see it: blurred (sigma 1.2 px), each frame
    through JPEG at quality 70, then re-encoded."""
    import cv2

    return reencode(np.stack([_jpeg(cv2.GaussianBlur(f, (0, 0), 1.2), 70) for f in frames]), fps)


def excerpt2s(frames: np.ndarray, fps: int) -> np.ndarray:
    """A 2 s excerpt from a third of the way in (the whole clip if shorter), re-encoded."""
    n = min(len(frames), 2 * fps)
    start = min(len(frames) // 3, len(frames) - n)
    return reencode(frames[start : start + n], fps)


ATTACKS: dict[str, Attack] = {
    "none": none,
    "crf28": crf28,
    "downscale50": downscale50,
    "crop10": crop10,
    "crop10_corner": crop10_corner,
    "speed0.5x": slow05,
    "speed2x": fast2,
    "screen_recording": screen_recording,
    "excerpt2s": excerpt2s,
}
