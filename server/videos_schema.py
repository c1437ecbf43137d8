"""The OpenAI-compatible ``video`` object and the create request, with
Fabula's extras, and the checks of a request against the served preset's
rules (``gen.pipelines.presets``: sizes, image conditioning).

Code written for OpenAI's Videos API works unchanged: Sora's model names
map onto the served preset (``served_model``), and Sora's four sizes are
made at the served model's own resolution in the requested aspect ratio
and delivered at the requested size (``resolve_size``)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.clock import unix
from core.errors import BadRequest
from core.settings import Settings
from core.text import TEXT_SCHEMA, check_text
from gen.jobs import Job, job_seed
from gen.pipelines.presets import RULES

_SIZE = re.compile(r"^(\d{1,4})x(\d{1,4})$")


PROMPT_MAX = 4000
SEED_MAX = 2**32 - 1
STEPS_MAX = 100
Prompt = Annotated[str, Meta(min_length=1, max_length=PROMPT_MAX, extra_json_schema=TEXT_SCHEMA)]
Seconds = Annotated[str, Meta(max_length=4)] | int
Seed = Annotated[int, Meta(ge=0, le=SEED_MAX)]
Steps = Annotated[int, Meta(ge=1, le=STEPS_MAX)]


class InputReference(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``input_reference`` as a JSON object (OpenAI's ImageInputReferenceParam).
    Only ``data:`` URLs are taken: the server fetches nothing from outside."""

    image_url: Annotated[str, Meta(max_length=16 * 1024 * 1024)] | None = None
    file_id: Annotated[str, Meta(max_length=128)] | None = None


class CreateVideo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: Prompt
    model: Annotated[str, Meta(max_length=64)] | None = None
    seconds: Seconds | None = None
    size: Annotated[str, Meta(max_length=16)] | None = None
    # a JSON body's reference; a multipart body uploads the file instead
    input_reference: InputReference | None = None
    # Fabula extras
    seed: Seed | None = None
    steps: Steps | None = None

    def __post_init__(self) -> None:
        check_text("prompt", self.prompt)


class RemixVideo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: Prompt

    def __post_init__(self) -> None:
        check_text("prompt", self.prompt)


class VideoRef(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, Meta(min_length=1, max_length=64)]


class ExtendVideo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """POST /v1/videos/extensions: JSON ``{"prompt", "seconds", "video": {"id"}}``,
    or multipart with ``video[id]`` (or the video file itself, as the SDK sends it)."""

    prompt: Prompt
    seconds: Seconds | None = None
    video: VideoRef | None = None
    # Fabula extras
    seed: Seed | None = None
    steps: Steps | None = None

    def __post_init__(self) -> None:
        check_text("prompt", self.prompt)


class DeletedVideo(msgspec.Struct, kw_only=True):
    id: str
    deleted: bool = True
    object: Literal["video.deleted"] = "video.deleted"


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
    reference: bool = False  # the first frame was conditioned on a reference image
    extend_of: str | None = None  # the video this one continues
    preset: str | None = None  # the served preset that makes it (``model`` is the name asked for)
    generated_size: str | None = None  # the size the model made, when the file is delivered at another


def video_object(job: Job) -> VideoObject:
    delivered = f"{job.output_width}x{job.output_height}" if job.output_width and job.output_height else None
    return VideoObject(
        id=job.id,
        status=job.status,
        progress=job.progress,
        created_at=unix(job.created_at),
        completed_at=unix(job.completed_at),
        expires_at=None,
        model=job.model_name or job.model,
        size=delivered or job.size,
        seconds=str(job.seconds),
        prompt=job.prompt,
        remixed_from_video_id=job.remixed_from_video_id,
        error=VideoError(job.error.code, job.error.message) if job.error else None,
        steps=job.steps,
        seed=job_seed(job),  # the one it is made with: asked for, or derived from its id (a remix reuses it)
        frames=job.media.frames if job.media else None,
        fps=job.media.fps if job.media else None,
        reference=job.reference,
        extend_of=job.extend_of,
        preset=job.model,
        generated_size=job.size if delivered else None,
    )


class VideoSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What a job makes: the served preset, the frame size it generates and
    the length; the size the file is delivered at when it differs (an OpenAI
    size the preset does not make itself), and the model name asked for when
    it is not the preset's own (e.g. ``sora-2``)."""

    model: str
    width: int
    height: int
    seconds: int
    output_width: int | None = None
    output_height: int | None = None
    model_name: str | None = None

    @classmethod
    def like(cls, job: Job, seconds: int | None = None) -> "VideoSpec":
        """The spec of an existing job (a remix or an extension keeps it)."""
        return cls(
            model=job.model,
            width=job.width,
            height=job.height,
            seconds=job.seconds if seconds is None else seconds,
            output_width=job.output_width,
            output_height=job.output_height,
            model_name=job.model_name,
        )

    def job_fields(self) -> dict:
        """The keyword arguments of ``gen.jobs.create_job`` this spec fills."""
        return dict(
            model=self.model,
            width=self.width,
            height=self.height,
            seconds=self.seconds,
            output_width=self.output_width,
            output_height=self.output_height,
            model_name=self.model_name,
        )


# OpenAI's sizes (always taken: see ``resolve_size``), and smaller ones of
# the same shapes for CPU presets: what an invalid_size error lists.
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
SMALL_SIZES = (
    "64x64", "96x64", "64x96", "128x128", "224x128", "128x224", "256x256",
    "448x256", "256x448", "512x512", "832x480", "480x832", "1280x704", "704x1280",
)
MIN_SIDE = 32
# The multiple asked for when the served model is no known preset (its worker
# will not load it; the api still checks sizes the common way).
DEFAULT_MULTIPLE = 32

# OpenAI's model names (the ``openai`` SDK's VideoModel literals) and what
# each asks for: "default" is the served preset, "best" the best one served.
# An installation serves one preset (FABULA_MODEL), so both land on it.
SORA_MODELS = {
    "sora-2": "default",
    "sora-2-2025-10-06": "default",
    "sora-2-2025-12-08": "default",
    "sora-2-pro": "best",
    "sora-2-pro-2025-10-06": "best",
}


class SizeRule(msgspec.Struct, frozen=True):
    """The frame sizes a request may ask for: both sides multiples of
    ``multiple``, between ``min_side`` and ``max_side``."""

    multiple: int
    min_side: int
    max_side: int

    def allows(self, width: int, height: int) -> bool:
        return all(self.min_side <= side <= self.max_side and side % self.multiple == 0 for side in (width, height))


def size_rule(settings: Settings) -> SizeRule:
    """The served preset's own multiple and largest side, within this installation's ``max_video_side``."""
    rules = RULES.get(settings.model)
    if rules is None:
        return SizeRule(multiple=DEFAULT_MULTIPLE, min_side=MIN_SIDE, max_side=settings.max_video_side)
    return SizeRule(
        multiple=rules.size_multiple,
        min_side=max(MIN_SIDE, rules.size_multiple),
        max_side=min(settings.max_video_side, rules.max_side),
    )


def allowed_sizes(settings: Settings) -> list[str]:
    """The named sizes this installation makes (any WxH obeying the same rule works too)."""
    rule = size_rule(settings)
    out = list(OPENAI_SIZES)
    for name in SMALL_SIZES:
        w, h = (int(v) for v in name.split("x"))
        if rule.allows(w, h):
            out.append(name)
    return out


def parse_size(size: str, settings: Settings) -> tuple[int, int]:
    """A ``WxH`` the served preset makes itself; 400 ``invalid_size`` otherwise."""
    match = _SIZE.match(size)
    if not match:
        raise BadRequest(
            "size must look like WIDTHxHEIGHT, e.g. 64x64",
            code="invalid_size",
            details={"sizes": allowed_sizes(settings)},
        )
    width, height = int(match[1]), int(match[2])
    rule = size_rule(settings)
    if not rule.allows(width, height):
        m, low, top = rule.multiple, rule.min_side, rule.max_side
        sizes = allowed_sizes(settings)
        raise BadRequest(
            f"size {width}x{height} is not available: width and height must be multiples of {m} between {low} and {top}"
            f"; sizes available: {', '.join(sizes)}",
            code="invalid_size",
            details={"sizes": sizes, "multiple": m, "min_side": low, "max_side": top},
        )
    return width, height


def _base_area(settings: Settings) -> int:
    """The served model's own resolution, as a number of pixels: its default size's."""
    match = _SIZE.match(settings.default_size)
    if match and size_rule(settings).allows(int(match[1]), int(match[2])):
        return int(match[1]) * int(match[2])
    side = 2 * size_rule(settings).multiple
    return side * side


def served_resolution(width: int, height: int, settings: Settings) -> tuple[int, int]:
    """The frame size the served preset makes for a clip delivered at
    ``width`` x ``height``: about as many pixels as its default size, in the
    same aspect ratio, both sides multiples of the preset's own multiple and
    at most its largest side."""
    rule = size_rule(settings)
    m = rule.multiple
    aspect = width / height
    h = math.sqrt(_base_area(settings) / aspect)
    w = h * aspect
    shrink = min(1.0, rule.max_side / max(w, h))
    low = -(-rule.min_side // m) * m
    top = rule.max_side // m * m

    def snap(side: float) -> int:
        return min(top, max(low, round(side * shrink / m) * m))

    return snap(w), snap(h)


class SizeChoice(msgspec.Struct, frozen=True, kw_only=True):
    """Frames generated at ``width`` x ``height``; the file delivered at the output size when one is set."""

    width: int
    height: int
    output_width: int | None = None
    output_height: int | None = None


def resolve_size(size: str, settings: Settings) -> SizeChoice:
    """A size the served preset makes is generated as it is. One of OpenAI's
    four sizes that it does not make is generated at the preset's own
    resolution in that aspect ratio (``served_resolution``) and delivered at
    the size asked for (the worker scales it while encoding). Anything else
    is 400 ``invalid_size``."""
    if size in OPENAI_SIZES:
        width, height = (int(v) for v in size.split("x"))
        if size_rule(settings).allows(width, height):
            return SizeChoice(width=width, height=height)
        made_w, made_h = served_resolution(width, height, settings)
        return SizeChoice(width=made_w, height=made_h, output_width=width, output_height=height)
    width, height = parse_size(size, settings)
    return SizeChoice(width=width, height=height)


def served_model(name: str | None, settings: Settings) -> tuple[str, str | None]:
    """The preset that serves a request's ``model``, and the name to report
    when it is not the preset's own (OpenAI's ``sora-2`` family: see
    ``SORA_MODELS``). 400 ``invalid_model`` for any other name."""
    if name is None or name == settings.model:
        return settings.model, None
    if name in SORA_MODELS:
        return settings.model, name
    served = [settings.model, *SORA_MODELS]
    raise BadRequest(
        f"model {name!r} is not served here; served: {', '.join(served)} (OpenAI's names map onto {settings.model!r})",
        code="invalid_model",
        details={"served": served},
    )


def parse_seconds(raw: str | int | None, settings: Settings) -> int:
    raw = raw if raw is not None else 1
    try:
        seconds = int(raw)
    except ValueError:
        raise BadRequest("seconds must be a whole number", code="invalid_seconds") from None
    if not 1 <= seconds <= settings.max_video_seconds:
        raise BadRequest(f"seconds must be between 1 and {settings.max_video_seconds}", code="invalid_seconds")
    return seconds


def resolve_spec(body: CreateVideo, settings: Settings) -> VideoSpec:
    """Checks model, size and length against what this installation serves."""
    model, model_name = served_model(body.model, settings)
    size = resolve_size(body.size if body.size is not None else settings.default_size, settings)  # "" is not a size
    seconds = parse_seconds(body.seconds, settings)
    return VideoSpec(
        model=model,
        width=size.width,
        height=size.height,
        seconds=seconds,
        output_width=size.output_width,
        output_height=size.output_height,
        model_name=model_name,
    )


def model_takes_images(model: str) -> bool:
    """Whether the preset ``model`` can condition on a reference image (image-to-video); False for an unknown one."""
    rules = RULES.get(model)
    return rules is not None and rules.image_to_video
