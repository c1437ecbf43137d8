"""Decode a liveness recording (WebM or MP4 with sound) into what the checks need:
RGB frames sampled at a steady rate, small enough to analyse fast, and the
sound as 16 kHz mono float32.

Limits are checked from the container's header before any decoding; a file
whose header does not say how long it is (browsers' MediaRecorder WebM) is
held to the same limit while it decodes. The caller checks the byte size
(50 MB) before it hands the file over. Anything FFmpeg cannot read becomes a
``RecordingError("corrupt", ...)``, never a bare exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import reason_without_paths
from core.media_kind import is_still_image

MAX_DURATION_S = 30.0
MIN_DURATION_S = 2.0
MAX_BYTES = 50 * 1024 * 1024  # the caller's check, before the file reaches this module
SAMPLE_RATE = 16000
TARGET_FPS = 10.0
MAX_SIDE = 480

CORRUPT = "corrupt"
TOO_LONG = "too_long"
TOO_SHORT = "too_short"
NO_VIDEO = "no_video"
NO_AUDIO = "no_audio"


class RecordingError(Exception):
    """The recording cannot be analysed; ``code`` says why (corrupt, too_long, too_short,
    no_video, no_audio)."""

    def __init__(self, code: str, message: str, duration_s: float | None = None, also: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.duration_s = duration_s  # what was measured, when the length was the problem
        self.also = tuple(also)  # further codes found at the same time (a short recording with no sound)

    def __reduce__(self):  # survives a process pool's pickling
        return (type(self), (self.code, self.message, self.duration_s, self.also))


@dataclass(slots=True)
class Probe:
    """What the container's header says, before decoding."""

    duration_s: float | None  # None when the header does not say
    has_video: bool
    has_audio: bool
    width: int
    height: int
    video_codec: str | None
    audio_codec: str | None


@dataclass(slots=True)
class Recording:
    """A decoded recording: ``frames[i]`` is RGB uint8 shown at ``times[i]`` seconds."""

    frames: list[np.ndarray]
    times: np.ndarray  # seconds from the start, one per frame
    audio: np.ndarray  # float32 mono at ``sample_rate``; empty when there is no sound
    sample_rate: int
    duration_s: float
    source_size: tuple[int, int]  # (width, height) as displayed, before downscaling
    has_audio: bool = True

    @property
    def fps(self) -> float:
        """The rate the frames were sampled at."""
        if len(self.times) < 2:
            return TARGET_FPS
        return float((len(self.times) - 1) / max(1e-6, self.times[-1] - self.times[0]))


def _open(path: str):
    import av

    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise RecordingError(CORRUPT, f"the file is not a readable video: {reason_without_paths(exc)}") from exc


def _header_duration(container) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000.0  # AV_TIME_BASE
    best = None
    for stream in container.streams:
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
            best = seconds if best is None else max(best, seconds)
    return best


def _probe_open(container) -> Probe:
    video = container.streams.video[0] if container.streams.video else None
    if video is not None and is_still_image(container.format.name):
        video = None  # a picture, not a recording
    audio = container.streams.audio[0] if container.streams.audio else None
    return Probe(
        duration_s=_header_duration(container),
        has_video=video is not None,
        has_audio=audio is not None,
        width=int(video.codec_context.width) if video is not None else 0,
        height=int(video.codec_context.height) if video is not None else 0,
        video_codec=video.codec_context.name if video is not None else None,
        audio_codec=audio.codec_context.name if audio is not None else None,
    )


def probe_recording(path: str) -> Probe:
    """Read the container's header only. Raises ``RecordingError`` for an unreadable file
    or one whose header says it is longer than ``MAX_DURATION_S``."""
    container = _open(path)
    try:
        probe = _probe_open(container)
    finally:
        container.close()
    _check_header(probe, require_audio=False)
    return probe


def _check_header(probe: Probe, *, require_audio: bool) -> None:
    if probe.duration_s is not None and probe.duration_s > MAX_DURATION_S:
        raise RecordingError(
            TOO_LONG, f"the recording is {probe.duration_s:.1f} s long; at most {MAX_DURATION_S:.0f} s"
        )
    if not probe.has_video:
        raise RecordingError(NO_VIDEO, "the recording has no video track")
    if require_audio and not probe.has_audio:
        raise RecordingError(NO_AUDIO, "the recording has no sound track")


MAX_UPSCALE = 2.0


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    # a small recording is enlarged up to twice (the face detector's smallest face is ~80 px)
    scale = min(MAX_UPSCALE, max_side / max(width, height))
    # even sizes keep swscale's chroma handling simple
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    return w, h


def _rotation_quarters(frame) -> int:
    """How many quarter turns counterclockwise the display matrix asks for (phones record
    portrait video as landscape frames plus a rotation)."""
    try:
        return int(round((frame.rotation or 0) / 90.0)) % 4
    except (AttributeError, TypeError, ValueError):
        return 0


def _frame_rgb(frame, max_side: int) -> np.ndarray:
    w, h = _scaled_size(frame.width, frame.height, max_side)
    rgb = frame.to_ndarray(format="rgb24", width=w, height=h)
    quarters = _rotation_quarters(frame)
    if quarters:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=quarters))
    return rgb


def decode_recording(
    path: str,
    *,
    target_fps: float = TARGET_FPS,
    max_side: int = MAX_SIDE,
    require_audio: bool = True,
    min_duration_s: float = MIN_DURATION_S,
    max_duration_s: float = MAX_DURATION_S,
) -> Recording:
    """Decode ``path``: frames sampled at about ``target_fps``, scaled so the long side is
    ``max_side`` pixels (a small recording is enlarged at most twice), and the sound as
    float32 mono at 16 kHz.

    Raises ``RecordingError`` with code ``corrupt``, ``too_long``, ``too_short``,
    ``no_video`` or ``no_audio``."""
    import av

    container = _open(path)
    try:
        probe = _probe_open(container)
        if probe.duration_s is not None and probe.duration_s > max_duration_s:
            raise RecordingError(
                TOO_LONG, f"the recording is {probe.duration_s:.1f} s long; at most {max_duration_s:.0f} s"
            )
        # no sound is judged after decoding: a damaged header can hide the tracks after the first
        _check_header(probe, require_audio=False)
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        audio = container.streams.audio[0] if container.streams.audio else None
        streams = [video] + ([audio] if audio is not None else [])
        resampler = (
            av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE) if audio is not None else None
        )

        frames: list[np.ndarray] = []
        times: list[float] = []
        chunks: list[np.ndarray] = []
        step = 1.0 / target_fps
        next_t: float | None = None
        first_t: float | None = None
        last_video_t = 0.0
        audio_samples = 0
        source_size = (probe.width, probe.height)

        first_audio_t: float | None = None

        def too_long() -> RecordingError:
            return RecordingError(TOO_LONG, f"the recording runs past {max_duration_s:.0f} s")

        for packet in container.demux(streams):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    t = frame.time
                    if t is None:
                        t = last_video_t + step
                    if first_t is None:
                        first_t = t
                        next_t = t
                    rel = t - first_t
                    last_video_t = t
                    if rel > max_duration_s + 0.5:
                        raise too_long()
                    if t + 1e-6 >= next_t:
                        rgb = _frame_rgb(frame, max_side)
                        frames.append(rgb)
                        times.append(rel)
                        if len(frames) == 1:
                            turned = _rotation_quarters(frame) % 2 == 1
                            source_size = (frame.height, frame.width) if turned else (frame.width, frame.height)
                        # keep the grid: a late frame does not push the later samples back
                        while next_t <= t + 1e-6:
                            next_t += step
                else:
                    if first_audio_t is None and frame.time is not None:
                        first_audio_t = frame.time
                    for out in resampler.resample(frame):
                        chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        chunks.append(chunk)
                        audio_samples += chunk.size
                    if audio_samples > (max_duration_s + 0.5) * SAMPLE_RATE:
                        raise too_long()
        if resampler is not None:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    except RecordingError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise RecordingError(CORRUPT, f"the recording could not be decoded: {reason_without_paths(exc)}") from exc
    finally:
        container.close()

    if not frames:
        # the header promised a video track, but nothing in it decodes
        raise RecordingError(CORRUPT, "the recording's video track has no decodable frames")
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if samples.size and first_audio_t is not None and first_t is not None:
        # put the sound on the frames' clock: sample 0 is the first frame's time
        shift = int(round((first_audio_t - first_t) * SAMPLE_RATE))
        if shift > 0:
            samples = np.concatenate([np.zeros(shift, dtype=np.float32), samples])
        elif shift < 0:
            samples = samples[-shift:]
    video_span = (times[-1] + step) if times else 0.0
    duration = max(video_span, samples.size / SAMPLE_RATE)
    if probe.duration_s is not None:
        duration = min(max(duration, 0.0), max(probe.duration_s, video_span))
    if duration > max_duration_s + 0.5:
        raise RecordingError(TOO_LONG, f"the recording is {duration:.1f} s long; at most {max_duration_s:.0f} s")
    silent = require_audio and samples.size == 0
    if duration < min_duration_s:  # said first: a short recording is short, with or without its sound
        message = f"the recording is {duration:.1f} s long; at least {min_duration_s:.0f} s"
        raise RecordingError(TOO_SHORT, message, duration, also=(NO_AUDIO,) if silent else ())
    if silent:
        if probe.has_audio:
            raise RecordingError(NO_AUDIO, "the recording's sound track is empty")
        raise RecordingError(NO_AUDIO, "the recording has no sound track")
    return Recording(
        frames=frames,
        times=np.asarray(times, dtype=np.float64),
        audio=samples,
        sample_rate=SAMPLE_RATE,
        duration_s=float(duration),
        source_size=source_size,
        has_audio=samples.size > 0,
    )
