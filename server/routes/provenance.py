"""The public check "Is this from here?": ``POST /v1/provenance/check`` and
the page at ``/verify`` that calls it.

Anyone may check a file, signed in or not: a copy found elsewhere is usually
checked by someone without an account. The check is limited per user when a
valid bearer token comes with it, else per client address
(``FABULA_RATE_PROVENANCE_CHECK``, 30 per 10 minutes).

The upload (multipart/form-data, the file field ``file``) is streamed to a
temporary file: past ``FABULA_PROVENANCE_CHECK_MAX_UPLOAD_BYTES`` (100 MB)
it is a 413 before the rest is read. Its type is read from its first bytes
(MP4, MOV, WebM; JPEG, PNG, WebP; anything else is 415), its size and
length from its headers before any pixel is decoded (at most 3840x2160
pixels and 180 s: 422 ``too_large_to_check``); a file that cannot be read
is 422 ``unreadable_media``. The reading runs in threads, two at a time per
process, off the event loop.

The answer says what each of the three marks found, with a confidence:

- ``manifest``: the C2PA manifest, ``valid``, ``invalid`` or ``absent``, its
  claims, and the video its ``org.fabula.generation`` assertion names;
- ``watermark``: the invisible key, its bit confidence and the video it
  names in ``provenance_keys``;
- ``perceptual``: served videos whose frames' perceptual hashes the file's
  frames fall near (``gen.provenance.phash_index``), for copies that lost both.

A video is named with its state: ``available``, or ``removed`` once it (and
its post) was deleted: keys and hashes outlive their videos so a moderator
can trace a copy. ``post_id``, with its author's handle and its caption,
is given for a public post only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema

from accounts import users
from core import rate_limit
from core.errors import FabulaError, Unauthorized
from core.settings import Settings
from core.stores import Stores
from feed.social import posts as feed_posts
from gen import jobs
from gen.provenance import invisible, keys, manifest, phash, registry
from gen.provenance.phash_index import match_copy
from gen.provenance.phash_store import LiveIndex
from server.auth import client_address, token_from_scope
from server.openapi import errors
from server.state import SettingsDep, StoresDep
from server.streamed_form import streamed_form
from server.web_bundle import web_root

MAX_PIXELS = 3840 * 2160
MAX_SECONDS = 180.0
UPLOAD_FIELD = "file"
_DECODES = asyncio.Semaphore(2)
_INDEX = LiveIndex()

VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
MANIFEST_TYPES = {"video/mp4", "video/quicktime", "image/jpeg", "image/png", "image/webp"}  # what C2PA can carry


class VideoRef(msgspec.Struct, kw_only=True):
    video_id: str
    state: Literal["available", "removed"]
    post_id: str | None = None
    author: str | None = None  # the public post's author's handle
    caption: str | None = None  # the public post's caption


class ManifestFound(msgspec.Struct, kw_only=True):
    state: Literal["valid", "invalid", "absent"]
    trusted: bool  # signed by this server's chain
    confidence: float  # 1.0 for a valid manifest signed here, 0 when it says nothing
    claims: dict
    video: VideoRef | None = None


class WatermarkFound(msgspec.Struct, kw_only=True):
    found: bool  # a key decoded (its CRC checked)
    key: str | None  # 12 hex digits
    bit_confidence: float
    bits_correct_estimate: float
    score: float
    confidence: float  # the bit confidence of a key this server issued, else 0
    video: VideoRef | None = None


class PerceptualMatch(msgspec.Struct, kw_only=True):
    video: VideoRef
    confidence: float
    matched_frames: int
    query_frames: int
    best_distance: int


class CheckResult(msgspec.Struct, kw_only=True):
    kind: Literal["video", "image"]
    from_here: bool  # some mark names a video of this server
    video: VideoRef | None  # the video named with the most confidence
    confidence: float
    manifest: ManifestFound
    watermark: WatermarkFound
    perceptual: list[PerceptualMatch]


def _unprocessable(message: str, code: str, details: dict | None = None) -> FabulaError:
    return FabulaError(message, code=code, status=422, details=details or {})


def sniff(head: bytes) -> str:
    """The file's type from its first bytes; 415 for anything else."""
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video/quicktime"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    raise FabulaError("send an MP4, MOV or WebM video or a JPEG, PNG or WebP picture", code="unsupported_media_type", status=415)


def _length_from_packets(container, stream) -> float:
    """A video's length when its header does not say (a live-recorded WebM): the
    latest packet time of its picture, read without decoding, and only until it
    passes the limit."""
    latest = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            latest = max(latest, float(packet.pts * packet.time_base))
            if latest > MAX_SECONDS:
                break
    return latest


def check_dimensions(path: Path, mime: str) -> None:
    """Refuse a file too large to check from its headers alone (no pixel decoded)."""
    if mime.startswith("image/"):
        from gen.reference import BadReference, header_size

        head = path.read_bytes()
        try:
            _, width, height = header_size(head)
        except BadReference as exc:
            raise _unprocessable(str(exc), "unreadable_media") from None
        seconds = 0.0
    else:
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise _unprocessable("the file has no picture", "unreadable_media")
                stream = container.streams.video[0]
                width, height = stream.codec_context.width, stream.codec_context.height
                seconds = float(container.duration / 1_000_000) if container.duration else _length_from_packets(container, stream)
        except FabulaError:
            raise
        except Exception:
            raise _unprocessable("the file cannot be read as a video", "unreadable_media") from None
    if width * height > MAX_PIXELS or seconds > MAX_SECONDS or width <= 0 or height <= 0:
        raise _unprocessable(
            f"at most {MAX_PIXELS} pixels a frame and {MAX_SECONDS:.0f} s",
            "too_large_to_check",
            {"width": width, "height": height, "seconds": round(seconds, 1)},
        )


def read_marks(path: Path, mime: str, anchors: bytes | None) -> tuple[manifest.ManifestReading, invisible.KeyReading, list[int]]:
    """The manifest, the key and the frames' perceptual hashes (one thread)."""
    if mime in MANIFEST_TYPES:
        try:
            found = manifest.read_manifest(path, mime, trust_anchors=anchors)
        except Exception as exc:  # a file the C2PA library cannot parse at all
            found = manifest.ManifestReading(state="absent", claims={"note": str(exc)[:200]})
    else:
        found = manifest.ManifestReading(state="absent", claims={})
    try:
        frames = invisible.picture_frames(path) if mime.startswith("image/") else invisible.sample_frames(path)
    except Exception:
        raise _unprocessable("the file cannot be decoded", "unreadable_media") from None
    if not frames:
        raise _unprocessable("the file has no frame", "unreadable_media")
    key = invisible.read_key(frames)
    hashes = phash.frame_hashes(frames, phash.QUERY_FRAMES)
    return found, key, hashes


async def video_ref(stores: Stores, video_id: str) -> VideoRef:
    job = await jobs.get_job(stores, video_id)
    if job is None:
        return VideoRef(video_id=video_id, state="removed")
    found = await feed_posts.post_for_video(stores, video_id)
    if found is None or found.visibility != "public":
        return VideoRef(video_id=video_id, state="available")
    author = await users.get_user(stores, found.author_id)
    return VideoRef(
        video_id=video_id, state="available", post_id=found.id, author=author.handle if author else None, caption=found.caption
    )


async def _limit(request: Request, stores: Stores, settings: Settings) -> None:
    rule = rate_limit.Rule.parse("provenance:check", settings.rate_provenance_check)
    key = f"ip:{client_address(request)}"
    if request.headers.get("authorization"):
        try:
            key = f"user:{(await token_from_scope(request, stores)).id}"
        except Unauthorized:
            pass  # a bad token checks as anyone does
    await rate_limit.enforce(stores, rule, key, message="too many checks; try again later")


async def check_file(stores: Stores, settings: Settings, path: Path, mime: str) -> CheckResult:
    async with _DECODES:
        await asyncio.to_thread(check_dimensions, path, mime)
        anchors = await asyncio.to_thread(keys.trust_anchors, settings)
        found, key, hashes = await asyncio.to_thread(read_marks, path, mime, anchors)

    named: list[tuple[float, VideoRef]] = []
    manifest_video = None
    generation = found.claims.get("generation") if isinstance(found.claims, dict) else None
    # only this server's chain vouches for a video id of this server: anyone may sign a file with a
    # chain of their own and write one in (its claims are shown, it names nothing here)
    if found.state == "valid" and found.trusted and isinstance(generation, dict) and generation.get("video_id"):
        manifest_video = await video_ref(stores, str(generation["video_id"]))
    manifest_confidence = 1.0 if found.state == "valid" and found.trusted else (0.5 if found.state == "valid" else 0.0)
    if manifest_video is not None:
        named.append((manifest_confidence, manifest_video))

    key_video = None
    record = await registry.lookup(stores, key.key) if key.key is not None else None
    if record is not None:
        key_video = await video_ref(stores, record.video_id)
        named.append((key.bit_confidence, key_video))
    watermark = WatermarkFound(
        found=key.key is not None,
        key=f"{key.key:012x}" if key.key is not None else None,
        bit_confidence=round(key.bit_confidence, 3),
        bits_correct_estimate=round(key.bits_correct_estimate, 3),
        score=round(key.score, 2),
        confidence=round(key.bit_confidence, 3) if record is not None else 0.0,
        video=key_video,
    )

    index = await _INDEX.refresh(stores)
    matches = await asyncio.to_thread(match_copy, index, hashes)
    perceptual = []
    for m in [m for m in matches if m.identified][:5]:
        ref = await video_ref(stores, m.video_id)
        perceptual.append(
            PerceptualMatch(video=ref, confidence=m.confidence, matched_frames=m.matched_frames, query_frames=m.query_frames, best_distance=m.best_distance)
        )
        named.append((m.confidence, ref))

    best = max(named, key=lambda row: row[0]) if named else None
    return CheckResult(
        kind="video" if mime in VIDEO_TYPES else "image",
        from_here=best is not None,
        video=best[1] if best else None,
        confidence=round(best[0], 3) if best else 0.0,
        manifest=ManifestFound(state=found.state, trusted=found.trusted, confidence=manifest_confidence, claims=found.claims, video=manifest_video),
        watermark=watermark,
        perceptual=perceptual,
    )


@dataclass
class CheckOperation(Operation):
    def __post_init__(self) -> None:
        schema = Schema(
            type="object",
            required=[UPLOAD_FIELD],
            properties={UPLOAD_FIELD: Schema(type="string", format="binary", description="an MP4, MOV or WebM video or a JPEG, PNG or WebP picture")},
        )
        self.request_body = RequestBody(required=True, content={"multipart/form-data": OpenAPIMediaType(schema=schema)})


@post(
    "/v1/provenance/check",
    status_code=200,
    operation_class=CheckOperation,
    responses=errors(400, 413, 415, 422, 429),
    tags=["provenance"],
    request_max_body_size=None,  # streamed_form applies the upload limit
)
async def check(request: Request, stores: StoresDep, settings: SettingsDep) -> CheckResult:
    """Is this from here? What the file's C2PA manifest, invisible key and
    frames say about where it came from, each with a confidence. No sign-in
    needed."""
    await _limit(request, stores, settings)
    async with streamed_form(request, files=(UPLOAD_FIELD,), max_file_bytes=settings.provenance_check_max_upload_bytes) as form:
        upload = form.files.get(UPLOAD_FIELD)
        if upload is None:
            raise FabulaError(f"send the file as the field {UPLOAD_FIELD!r}", code="invalid_request", status=400)
        if upload.size == 0:
            raise _unprocessable("the file is empty", "unreadable_media")
        with open(upload.path, "rb") as f:
            mime = sniff(f.read(16))
        return await check_file(stores, settings, upload.path, mime)


def _page(name: str, media_type: str) -> Response:
    return Response(
        (web_root() / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@get("/verify", include_in_schema=False)
async def verify_page() -> Response:
    return _page("verify.html", "text/html")  # Litestar adds the charset to text/* types


@get("/verify/verify.js", include_in_schema=False)
async def verify_script() -> Response:
    return _page("verify.js", "text/javascript")


ROUTES = [check, verify_page, verify_script]
