"""Turning generated frames into files people can play.

Owns H.264/MP4 encoding of a clip (with its AAC sound track when there is
one) and JPEG thumbnails, both written atomically (a temp file in the
destination folder, then ``os.replace``), so a retried job simply overwrites
and a reader never sees half a file.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import msgspec
import numpy as np

VIDEO_CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"
# Constant quality; "medium" costs little next to generation and keeps files small.
X264_OPTIONS = {"crf": "20", "preset": "medium"}
JPEG_QUALITY = 85
AUDIO_CODEC = "aac"
AUDIO_BITRATE = 128_000
# Rates the AAC encoder takes (MPEG-4 sampling frequency table).
AAC_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


class EncodedVideo(msgspec.Struct):
    path: str
    width: int
    height: int
    frames: int
    fps: int
    bytes: int
    content_type: str = "video/mp4"
    # The sound track, when there is one: AAC at this rate with this many channels.
    audio_channels: int = 0
    sample_rate: int | None = None


@contextmanager
def _atomic_target(out_path: Path):
    """Yield a temp path next to ``out_path``; on success move it into place, else remove it."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must be shaped (n >= 1, height, width, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[1] < 2 or frames.shape[2] < 2:
        raise ValueError(f"frames must be at least 2x2 pixels, got {frames.shape[2]}x{frames.shape[1]}")
    return frames


def _even(frames: np.ndarray) -> np.ndarray:
    """4:2:0 needs even sides: repeat the last row/column where a side is odd."""
    _, h, w, _ = frames.shape
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(frames)


def _fit_aspect(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centre of ``frames`` cut to the aspect ratio of ``width`` x ``height``."""
    _, h, w, _ = frames.shape
    if w * height > h * width:  # too wide: cut the sides
        keep = max(2, round(h * width / height))
        left = (w - keep) // 2
        return frames[:, :, left : left + keep]
    keep = max(2, round(w * height / width))
    top = (h - keep) // 2
    return frames[:, top : top + keep]


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    width, height = size
    if not all(isinstance(v, int) and v >= 2 and v % 2 == 0 for v in (width, height)):
        raise ValueError(f"size must be two even sides of at least 2 pixels, got {size!r}")
    return width, height


def _check_audio(audio, sample_rate, n_frames: int, fps: int) -> np.ndarray | None:
    if audio is None:
        if sample_rate is not None:
            raise ValueError("sample_rate given without audio")
        return None
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None, :]
    if audio.ndim != 2 or audio.shape[0] not in (1, 2) or audio.shape[1] < 1:
        raise ValueError(f"audio must be shaped (1 or 2 channels, samples >= 1), got {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio must be float samples in [-1, 1], got {audio.dtype}")
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate not in AAC_SAMPLE_RATES:
        raise ValueError(f"sample_rate must be one of {AAC_SAMPLE_RATES}, got {sample_rate!r}")
    video_s = n_frames / fps
    audio_s = audio.shape[1] / sample_rate
    if abs(audio_s - video_s) > max(1.0 / fps, 0.05):
        raise ValueError(f"audio lasts {audio_s:.3f} s but the video {video_s:.3f} s")
    clean = np.nan_to_num(audio.astype(np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.ascontiguousarray(np.clip(clean, -1.0, 1.0))


def encode_mp4(
    frames: np.ndarray,
    fps: int,
    out_path: Path,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    size: tuple[int, int] | None = None,
) -> EncodedVideo:
    """Encode uint8 RGB ``frames`` (n, h, w, 3) as H.264 in a fast-start MP4 at ``out_path``.

    With ``audio`` (float32 in [-1, 1], shaped (channels, samples), one or two
    channels, as long as the video to within a frame) and its ``sample_rate``,
    the file also holds an AAC track; video and sound packets are interleaved
    by time. Odd sides are padded by one pixel (the reported size is the
    encoded one). With ``size`` (width, height), the frames' centre in that
    aspect ratio is scaled to it as it is encoded. Raises RuntimeError if
    the written file does not hold every frame.
    """
    import av

    frames = _even(_check_frames(frames))
    if not isinstance(fps, int) or fps < 1:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    scale_to = _check_size(size)
    if scale_to is not None and scale_to != (frames.shape[2], frames.shape[1]):
        frames = np.ascontiguousarray(_fit_aspect(frames, *scale_to))
    else:
        scale_to = None
    n, height, width, _ = frames.shape
    if scale_to is not None:
        width, height = scale_to
    sound = _check_audio(audio, sample_rate, n, fps)
    out_path = Path(out_path)

    with _atomic_target(out_path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream(VIDEO_CODEC, rate=fps, options=dict(X264_OPTIONS))
            stream.width, stream.height = width, height
            stream.pix_fmt = PIXEL_FORMAT
            stream.time_base = Fraction(1, fps)
            audio_stream = None
            if sound is not None:
                layout = "stereo" if sound.shape[0] == 2 else "mono"
                audio_stream = container.add_stream(AUDIO_CODEC, rate=sample_rate, layout=layout)
                audio_stream.bit_rate = AUDIO_BITRATE
                audio_stream.time_base = Fraction(1, sample_rate)
            packets = []
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                if scale_to is not None:
                    frame = frame.reformat(width=width, height=height, interpolation="BICUBIC")
                frame.pts = i
                packets += stream.encode(frame)
            packets += stream.encode(None)  # flush delayed frames
            if audio_stream is not None:
                packets += _encode_audio(audio_stream, sound, sample_rate)
            packets.sort(key=lambda p: (float((p.dts if p.dts is not None else 0) * p.time_base), p.stream.index))
            for packet in packets:
                container.mux(packet)
        written = _frame_count(tmp)
        if written != n:
            raise RuntimeError(f"encoded {n} frames but the MP4 holds {written}")

    return EncodedVideo(
        path=str(out_path),
        width=width,
        height=height,
        frames=n,
        fps=fps,
        bytes=out_path.stat().st_size,
        audio_channels=0 if sound is None else int(sound.shape[0]),
        sample_rate=None if sound is None else sample_rate,
    )


def _encode_audio(stream, sound: np.ndarray, sample_rate: int) -> list:
    """AAC packets for planar float samples, fed in the encoder's frame size."""
    import av

    layout = "stereo" if sound.shape[0] == 2 else "mono"
    size = stream.codec_context.frame_size or 1024
    packets = []
    for start in range(0, sound.shape[1], size):
        chunk = np.ascontiguousarray(sound[:, start : start + size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        packets += stream.encode(frame)
    packets += stream.encode(None)
    return packets


def _frame_count(path: Path) -> int:
    """Frames in the first video stream, read from the container index (no decoding)."""
    import av

    with av.open(str(path)) as container:
        return int(container.streams.video[0].frames)


def write_thumbnail(frame: np.ndarray, out_path: Path, max_side: int = 512, size: tuple[int, int] | None = None) -> None:
    """Write one uint8 RGB frame (h, w, 3) as a JPEG whose longer side is at
    most ``max_side``; with ``size``, in the video's delivered shape (as
    ``encode_mp4`` scales it)."""
    from PIL import Image

    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"thumbnail frame must be uint8 (height, width, 3), got {frame.dtype} {frame.shape}")
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    image = Image.fromarray(np.ascontiguousarray(frame))
    if size is not None and tuple(size) != image.size:
        fitted = _fit_aspect(np.asarray(image)[None], *size)[0]
        image = Image.fromarray(np.ascontiguousarray(fitted)).resize(tuple(size), Image.Resampling.BICUBIC)
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out_path = Path(out_path)
    with _atomic_target(out_path) as tmp:
        image.save(tmp, format="JPEG", quality=JPEG_QUALITY, optimize=True)
