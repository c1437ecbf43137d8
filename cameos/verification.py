"""Running the liveness pipeline off the event loop: a process pool.

The pool is made on first use, ``FABULA_CAMEO_WORKERS`` processes, started
with ``spawn`` (the api process runs threads; a forked copy of them is not
safe). Each process loads the face and speech models once, on its first
recording, and keeps them. Work that a crash in a native library could take
down (decoding an untrusted file, dlib) runs there too, so a bad upload
kills at most a pool process: the pool is then made again and the upload
answered as unreadable. A pool process ends with the process that made
the pool, even one killed without a chance to stop it.

Every call takes a file path on this host (the upload's temporary file) and
maps the pipeline's own failures onto the API's errors: a file that cannot
be read is 422 ``invalid_recording``, one longer than 30 s is 413
``recording_too_long``. At most ``QUEUE_PER_WORKER`` recordings per process
may wait; past that new ones are refused with 503 ``cameos_busy``."""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cameos.errors import invalid_recording, recording_too_long
from cameos.liveness.report import LivenessReport
from core.errors import FabulaError, Unavailable
from core.settings import Settings

log = logging.getLogger("fabula.cameos")

QUEUE_PER_WORKER = 4
MAX_SECONDS = 30.0  # what cameos.liveness.recording holds a recording to
CHARACTER_FRAMES = 3
JPEG_QUALITY = 90

_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_busy = 0


# --- what runs in the pool's processes ----------------------------------------------


def _probe(path: str) -> float | None:
    from cameos.liveness.recording import probe_recording

    return probe_recording(path).duration_s


def _verify(path: str, digits: str, moves: list[str]) -> LivenessReport:
    from cameos.liveness.verify import verify_recording

    return verify_recording(path, digits, moves)


def _face_count(path: str) -> int:
    from cameos.liveness.verify import face_count_in_video

    return int(face_count_in_video(path))


def _frames(path: str, count: int) -> list[bytes]:
    """``count`` frames spread over the clip, as JPEG (a character's reference frames)."""
    from PIL import Image

    from cameos.liveness.recording import decode_recording

    recording = decode_recording(path, target_fps=2.0, max_side=512, require_audio=False, min_duration_s=0.0)
    frames = recording.frames
    picks = sorted({round(i * (len(frames) - 1) / max(1, count - 1)) for i in range(count)}) if len(frames) > 1 else [0]
    out = []
    for i in picks:
        buffer = io.BytesIO()
        Image.fromarray(frames[i]).save(buffer, format="JPEG", quality=JPEG_QUALITY)
        out.append(buffer.getvalue())
    return out


# --- the api's side -----------------------------------------------------------------


def _exit_with_parent() -> None:
    """(Each pool process, at its start.) End when the process that made the pool
    ends, however it ends: a pool process waits on a queue whose other end it
    holds itself, so it would otherwise outlive a killed api for ever, with its
    models loaded."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _executor(settings: Settings) -> ProcessPoolExecutor:
    global _pool, _pool_size
    if _pool is None:
        _pool_size = max(1, settings.cameo_workers)
        _pool = ProcessPoolExecutor(
            max_workers=_pool_size, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent
        )
    return _pool


def _drop_pool() -> None:
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the pool's processes (at the api's shutdown; a no-op without a pool)."""
    _drop_pool()


def _recording_error(exc: Exception) -> FabulaError:
    """The API's answer to the pipeline's ``RecordingError`` (by its ``code``)."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    if code == "too_long":
        return recording_too_long(MAX_SECONDS, message)
    if code == "no_video":
        return invalid_recording("it has no video track")
    return invalid_recording(message)


async def _run(settings: Settings, fn, *args: Any) -> Any:
    global _busy
    limit = max(1, settings.cameo_workers) * QUEUE_PER_WORKER
    if _busy >= limit:
        raise Unavailable("too many recordings are being checked; try again in a minute", code="cameos_busy")
    _busy += 1
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_executor(settings), fn, *args)
    except FabulaError:
        raise
    except BrokenProcessPool:
        log.warning("cameo pool process died", extra={"fn": fn.__name__})
        _drop_pool()
        raise invalid_recording("the recording could not be analysed") from None
    except Exception as exc:
        if type(exc).__name__ == "RecordingError":
            raise _recording_error(exc) from None
        if type(exc).__name__ == "FaceModelsMissing" or isinstance(exc, ImportError):
            log.error("face models missing", extra={"error": str(exc)})
            raise Unavailable("cameo verification is not available on this server", code="cameos_unavailable") from None
        log.exception("cameo analysis failed", extra={"fn": fn.__name__})
        raise invalid_recording("the recording could not be analysed") from None
    finally:
        _busy -= 1


async def probe(settings: Settings, path: str) -> float | None:
    """Read the container's header only: 422 when it is not a video, 413 when
    it says it is longer than 30 s. Returns the duration it states (None: it
    does not say, as MediaRecorder's WebM does; decoding then holds it to the limit)."""
    return await _run(settings, _probe, path)


async def verify(settings: Settings, path: str, digits: str, moves: list[str]) -> LivenessReport:
    """The full liveness check of a recording against a challenge."""
    return await _run(settings, _verify, path, digits, list(moves))


async def face_count(settings: Settings, path: str) -> int:
    """The most faces seen in one frame of the video."""
    return await _run(settings, _face_count, path)


async def character_frames(settings: Settings, path: str, count: int = CHARACTER_FRAMES) -> list[bytes]:
    """Reference frames (JPEG) for a character without a face."""
    return await _run(settings, _frames, path, count)
