"""The api's side of the media store: one store per process (an S3 client
is costly to make), spritesheets made on first request, and reference
images checked before anything is written."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from core.errors import BadRequest, FabulaError, NotFound, PayloadTooLarge, Unavailable
from core.settings import Settings
from gen import reference as refs
from core.media_store import LocalMediaStore, MediaStore, open_media_store
from gen.spritesheet import make_spritesheet

log = logging.getLogger("fabula.media")

_stores: dict[Settings, MediaStore] = {}
_sprite_locks: dict[str, asyncio.Lock] = {}
# reference images and last frames decoded at once by one process (each at most gen.reference.MAX_PIXELS)
_decoding = asyncio.Semaphore(2)


def media_store(settings: Settings) -> MediaStore:
    """This process's media store for ``settings`` (made once)."""
    store = _stores.get(settings)
    if store is None:
        store = _stores[settings] = open_media_store(settings)
    return store


async def guarded(what: str, coro) -> Any:
    """Await a media-store call; its failure is a 503 (the store is a backing service)."""
    try:
        return await coro
    except FabulaError:
        raise
    except Exception as exc:
        log.warning("media store failed", extra={"op": what, "error": f"{type(exc).__name__}: {exc}"})
        raise Unavailable(f"the media store is unavailable ({what}); try again", code="media_unavailable") from None


# --- spritesheets -------------------------------------------------------------


async def ensure_spritesheet(store: MediaStore, video_id: str) -> bool:
    """Make ``video_id``'s spritesheet from its MP4 unless it is stored; False if it cannot be made."""
    if await store.size(video_id, "spritesheet") is not None:
        return True
    lock = _sprite_locks.setdefault(video_id, asyncio.Lock())
    try:
        async with lock:
            if await store.size(video_id, "spritesheet") is not None:
                return True
            with tempfile.TemporaryDirectory(prefix="fabula-sprite-") as tmp:
                sheet = Path(tmp) / "spritesheet.jpg"
                if isinstance(store, LocalMediaStore):
                    mp4 = store.path(video_id, "video")
                    if not mp4.is_file():
                        return False
                else:
                    mp4 = Path(tmp) / "video.mp4"
                    if not await store.fetch_file(video_id, "video", mp4):
                        return False
                try:
                    await asyncio.to_thread(make_spritesheet, mp4, sheet)
                except (ValueError, OSError) as exc:
                    log.warning("spritesheet failed", extra={"video_id": video_id, "error": str(exc)})
                    return False
                await store.put_file(video_id, "spritesheet", sheet)
            return True
    finally:
        if not lock.locked() and _sprite_locks.get(video_id) is lock:
            del _sprite_locks[video_id]


# --- reference images -----------------------------------------------------------


def _bad(message: str, code: str = "invalid_reference") -> BadRequest:
    return BadRequest(message, code=code, details={"field": "input_reference"} if code == "unsupported" else None)


async def read_upload(upload: Any, limit: int, what: str) -> bytes:
    """An uploaded file's bytes; 413 past ``limit``."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{what} is larger than {limit} bytes", code="upload_too_large", details={"limit": limit, "field": what})
    return data


async def upload_to_file(upload: Any, dest: Path, limit: int, what: str) -> int:
    """Copy an uploaded file to ``dest``; 413 past ``limit``."""

    def copy() -> int:
        upload.file.seek(0)
        with open(dest, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)
            return out.tell()

    size = await asyncio.to_thread(copy)
    if size > limit:
        raise PayloadTooLarge(f"{what} is larger than {limit} bytes", code="upload_too_large", details={"limit": limit, "field": what})
    return size


def data_url_bytes(url: str) -> bytes:
    """The payload of a ``data:<type>;base64,<payload>`` URL."""
    if not url.startswith("data:"):
        raise _bad("input_reference.image_url must be a data: URL (data:image/png;base64,...); this server fetches no URLs", "unsupported")
    head, sep, payload = url.partition(",")
    if not sep or not head.endswith(";base64"):
        raise _bad("input_reference.image_url must be a base64 data: URL")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("input_reference.image_url holds invalid base64") from None


async def reference_png(*, upload: Any = None, image_url: str | None = None, file_id: str | None = None, limit: int) -> bytes:
    """A checked, PNG-normalised reference image from an upload or a data URL."""
    if file_id is not None:
        raise _bad("input_reference.file_id is not supported here: upload the image, or send it as a data: URL", "unsupported")
    if upload is not None:
        data = await read_upload(upload, limit, "input_reference")
    elif image_url is not None:
        data = data_url_bytes(image_url)
        if len(data) > limit:
            raise PayloadTooLarge(
                f"input_reference is larger than {limit} bytes", code="upload_too_large", details={"limit": limit, "field": "input_reference"}
            )
    else:
        raise _bad("input_reference needs an image (a file upload or image_url)")
    try:
        refs.check_header(data)  # no format, size or truncation problem gets as far as a thread
        async with _decoding:  # a few decodes at a time, whatever the number of uploads
            return await asyncio.to_thread(refs.normalize_image, data)
    except refs.BadReference as exc:
        raise _bad(str(exc)) from None


async def last_frame_of_stored(store: MediaStore, video_id: str) -> bytes:
    """The last frame of a stored video, as PNG."""
    with tempfile.TemporaryDirectory(prefix="fabula-extend-") as tmp:
        if isinstance(store, LocalMediaStore):
            mp4 = store.path(video_id, "video")
            if not mp4.is_file():
                raise NotFound(f"video {video_id!r} has no stored MP4", code="media_not_found")
        else:
            mp4 = Path(tmp) / "video.mp4"
            if not await guarded("read", store.fetch_file(video_id, "video", mp4)):
                raise NotFound(f"video {video_id!r} has no stored MP4", code="media_not_found")
        try:
            async with _decoding:
                return await asyncio.to_thread(refs.last_frame_png, mp4)
        except refs.BadReference as exc:
            raise NotFound(f"video {video_id!r} cannot be read: {exc}", code="media_not_found") from None


async def last_frame_of_upload(upload: Any, limit: int) -> bytes:
    """The last frame of an uploaded video file, as PNG; 400 if it is not a video."""
    with tempfile.TemporaryDirectory(prefix="fabula-upload-") as tmp:
        path = Path(tmp) / "upload"
        await upload_to_file(upload, path, limit, "video")
        try:
            async with _decoding:
                return await asyncio.to_thread(refs.last_frame_png, path)
        except refs.BadReference as exc:
            raise _bad(f"video: {exc}", "invalid_video") from None
