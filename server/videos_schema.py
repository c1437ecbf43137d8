"""The OpenAI-compatible ``video`` object and the create request, with Fabula's extras."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.clock import unix
from core.errors import BadRequest
from core.settings import Settings
from gen.jobs import Job

_SIZE = re.compile(r"^(\d{1,4})x(\d{1,4})$")


class CreateVideo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: Annotated[str, Meta(min_length=1, max_length=4000)]
    model: Annotated[str, Meta(max_length=64)] | None = None
    seconds: Annotated[str, Meta(max_length=4)] | int | None = None
    size: Annotated[str, Meta(max_length=16)] | None = None
    # Fabula extras
    seed: Annotated[int, Meta(ge=0, lt=2**32)] | None = None
    steps: Annotated[int, Meta(ge=1, le=100)] | None = None


class VideoError(msgspec.Struct):
    code: str
    message: str


class VideoObject(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["video"] = "video"
    status: str
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    model: str
    size: str
    seconds: str
    prompt: str
    remixed_from_video_id: str | None
    error: VideoError | None
    # Fabula extras
    steps: int | None = None
    seed: int | None = None
    frames: int | None = None
    fps: int | None = None


def video_object(job: Job) -> VideoObject:
    return VideoObject(
        id=job.id,
        status=job.status,
        progress=job.progress,
        created_at=unix(job.created_at),
        completed_at=unix(job.completed_at),
        expires_at=None,
        model=job.model,
        size=job.size,
        seconds=str(job.seconds),
        prompt=job.prompt,
        remixed_from_video_id=job.remixed_from_video_id,
        error=VideoError(job.error.code, job.error.message) if job.error else None,
        steps=job.steps,
        seed=job.seed,
        frames=job.media.frames if job.media else None,
        fps=job.media.fps if job.media else None,
    )


class VideoSpec(msgspec.Struct, frozen=True):
    model: str
    width: int
    height: int
    seconds: int


def resolve_spec(body: CreateVideo, settings: Settings) -> VideoSpec:
    """Checks model, size and length against what this installation serves."""
    model = body.model or settings.model
    if model != settings.model:
        raise BadRequest(f"model {model!r} is not served here; served: {settings.model!r}", code="invalid_model", details={"served": [settings.model]})
    match = _SIZE.match(body.size or settings.default_size)
    if not match:
        raise BadRequest("size must look like WIDTHxHEIGHT, e.g. 64x64", code="invalid_size")
    width, height = int(match[1]), int(match[2])
    limit = settings.max_video_side
    if not (32 <= width <= limit and 32 <= height <= limit) or width % 32 or height % 32:
        raise BadRequest(
            f"size {width}x{height} is not available: width and height must be multiples of 32 between 32 and {limit}",
            code="invalid_size",
        )
    raw_seconds = body.seconds if body.seconds is not None else 1
    try:
        seconds = int(raw_seconds)
    except ValueError:
        raise BadRequest("seconds must be a whole number", code="invalid_seconds") from None
    if not 1 <= seconds <= settings.max_video_seconds:
        raise BadRequest(f"seconds must be between 1 and {settings.max_video_seconds}", code="invalid_seconds")
    return VideoSpec(model=model, width=width, height=height, seconds=seconds)
