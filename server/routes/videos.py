"""The Videos API (OpenAI-compatible): create, retrieve, list, delete,
remix, extend and download generated videos, and the latest live preview.

Edits (``POST /v1/videos/edits``) answer 400 ``unsupported``: the served
pipelines make video from text and from an image, not from a video.

Code written for OpenAI's Videos API works unchanged: Sora's model names,
sizes and lengths are taken (``server.videos_schema``), and errors carry
OpenAI's ``type`` and ``param`` too (``server.openai_errors``)."""

from __future__ import annotations

import asyncio

from typing import Annotated

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.openapi.spec import Schema
from litestar.params import FromPath, Parameter

from accounts import minors
from accounts.users import User
from cameos import reference_faces
from cameos.upload_refusal import moderation_blocked
from core import rate_limit
from core.errors import BadRequest, Conflict, NotFound, PolicyViolation, RateLimited
from core.settings import Settings
from core.stores import Stores
from core.text import TEXT_SCHEMA
from feed import audit, publishing, takedown
from feed.social import posts as feed_posts
from feed.social.visibility import view_decision
from gen import jobs, previews, queue
from gen.cancel import cancel_job
from gen.jobs import job_seed
from policy.prompt import moderate_prompt
from policy.quota import QuotaLimits, decide_enqueue
from server import cameo_use
from server.auth import AUTH, UserDep
from server.body import decode_json_or_form, field_error
from server.openapi import body_operation, media_operation, openai_errors
from server.media import (
    ensure_spritesheet,
    guarded,
    last_frame_of_stored,
    last_frame_of_upload,
    media_store,
    reference_png,
)
from server.ranges import media_response
from server.state import SettingsDep, StoresDep
from server.videos_schema import (
    PROMPT_MAX,
    SEED_MAX,
    STEPS_MAX,
    CreateVideo,
    DeletedVideo,
    ExtendVideo,
    RemixVideo,
    VideoObject,
    VideoSpec,
    model_takes_images,
    parse_seconds,
    resolve_size,
    resolve_spec,
    video_object,
)

POLL_AFTER_MS = "1000"


class VideoList(msgspec.Struct):
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool
    object: str = "list"


_PROMPT = Schema(type="string", min_length=1, max_length=PROMPT_MAX, pattern=TEXT_SCHEMA["pattern"])  # videos_schema.Prompt, for the routes that read their body
_SEED = Schema(type="integer", minimum=0, maximum=SEED_MAX, description="the noise seed; without it, one derived from the video's id")
_STEPS = Schema(type="integer", minimum=1, maximum=STEPS_MAX, description="denoising steps; without it, the preset's own")
_CREATE_FIELDS = {
    "prompt": _PROMPT,
    "model": Schema(
        type="string",
        description="the served preset (FABULA_MODEL), or OpenAI's sora-2, sora-2-pro and their dated names, which map onto it",
    ),
    "seconds": Schema(type="string", description="clip length in seconds, e.g. \"4\", \"8\", \"12\""),
    "size": Schema(
        type="string",
        description="WIDTHxHEIGHT the served preset makes (e.g. 64x64), or OpenAI's 720x1280, 1280x720, 1024x1792, "
        "1792x1024: made at the preset's own resolution in that shape, delivered (and reported) at the size asked for",
    ),
    "seed": _SEED,
    "steps": _STEPS,
}

def _seconds_in_json(field: Schema) -> Schema:
    """JSON takes the length as a string (OpenAI's type) or as a whole number; a form field is text."""
    return Schema(one_of=[Schema(type="string"), Schema(type="integer")], description=field.description)


_CREATE_SCHEMA = Schema(
    type="object",
    required=["prompt"],
    additional_properties=False,
    properties={
        **_CREATE_FIELDS,
        "seconds": _seconds_in_json(_CREATE_FIELDS["seconds"]),
        "input_reference": Schema(
            type="object",
            additional_properties=False,
            properties={"image_url": Schema(type="string", description="a data: URL (base64) of a PNG, JPEG or WebP image")},
        ),
    },
)
_CREATE_FORM_SCHEMA = Schema(
    type="object",
    required=["prompt"],
    additional_properties=False,
    properties={
        **_CREATE_FIELDS,
        "input_reference": Schema(type="string", format="binary", description="PNG, JPEG or WebP image conditioning the first frame"),
    },
)
_EXTEND_FIELDS = {
    "prompt": _PROMPT,
    "seconds": Schema(type="string", description="length of the new segment in seconds"),
    "seed": _SEED,
    "steps": _STEPS,
}
_EXTEND_SCHEMA = Schema(
    type="object",
    required=["prompt", "video"],
    additional_properties=False,
    properties={
        **_EXTEND_FIELDS,
        "seconds": _seconds_in_json(_EXTEND_FIELDS["seconds"]),
        "video": Schema(type="object", required=["id"], additional_properties=False, properties={"id": Schema(type="string")}),
    },
)
_EXTEND_FORM_SCHEMA = Schema(
    type="object",
    required=["prompt"],
    additional_properties=False,
    properties={
        **_EXTEND_FIELDS,
        "video[id]": Schema(type="string", description="a completed video of mine"),
        "video": Schema(type="string", format="binary", description="or a video file (its last frame is continued)"),
    },
)


# a urlencoded form: the multipart form's fields without its files, nested fields as OpenAI's SDK flattens them
_CREATE_URLENCODED_SCHEMA = Schema(
    type="object",
    required=["prompt"],
    additional_properties=False,
    properties={
        **_CREATE_FIELDS,
        "input_reference[image_url]": Schema(type="string", description="a data: URL (base64) of a PNG, JPEG or WebP image"),
    },
)
_EXTEND_URLENCODED_SCHEMA = Schema(
    type="object",
    required=["prompt", "video[id]"],
    additional_properties=False,
    properties={**_EXTEND_FIELDS, "video[id]": Schema(type="string", description="a completed video of mine")},
)

_REMIX_SCHEMA = Schema(type="object", required=["prompt"], additional_properties=False, properties={"prompt": _PROMPT})
# (OpenAI's edits take a prompt and a video; none is served here: every call is 400 unsupported)
_EDIT_SCHEMA = Schema(type="object", properties={"prompt": Schema(type="string"), "video": Schema(type="object")})

URLENCODED = "application/x-www-form-urlencoded"
CreateVideoOperation = body_operation(
    {"application/json": _CREATE_SCHEMA, "multipart/form-data": _CREATE_FORM_SCHEMA, URLENCODED: _CREATE_URLENCODED_SCHEMA}
)
ExtendVideoOperation = body_operation(
    {"application/json": _EXTEND_SCHEMA, "multipart/form-data": _EXTEND_FORM_SCHEMA, URLENCODED: _EXTEND_URLENCODED_SCHEMA}
)
RemixVideoOperation = body_operation({"application/json": _REMIX_SCHEMA, "multipart/form-data": _REMIX_SCHEMA, URLENCODED: _REMIX_SCHEMA})
EditVideoOperation = body_operation(
    {"application/json": _EDIT_SCHEMA, "multipart/form-data": _EDIT_SCHEMA, URLENCODED: _EDIT_SCHEMA}, required=False, refused_only=True
)


def form_limit(settings: Settings) -> int:
    """A multipart body may carry an upload on top of the ordinary fields."""
    return settings.max_body_bytes + settings.max_upload_bytes


def poll_headers(job: jobs.Job) -> dict[str, str]:
    return {} if job.done else {"openai-poll-after-ms": POLL_AFTER_MS}


async def completed_source(stores: Stores, video_id: str, user: User) -> jobs.Job:
    """My completed video to remix or extend; 409 ``video_removed`` once the moderators took its post
    down (a remix or an extension would bring it back under another id)."""
    return await _usable_own(stores, await owned_job(stores, video_id, user))


async def _usable_own(stores: Stores, job: jobs.Job) -> jobs.Job:
    if job.status != "completed":
        raise Conflict(f"video {job.id!r} is {job.status}; only a completed video can be used", code="video_not_ready")
    await takedown.refuse_removed_video(stores, job.id)
    return job


async def count_video(stores: Stores, settings: Settings, user: User) -> None:
    """A new video's limit (``FABULA_RATE_VIDEOS``, 429), taken once its request is read and before
    anything is decoded or moderated: refused and undecodable attempts count too."""
    await rate_limit.enforce(stores, rate_limit.rules(settings).videos, user.id, message="too many videos; try again later")


async def remix_source(stores: Stores, video_id: str, user: User) -> jobs.Job:
    """What a remix starts from: my completed video, or the completed video of a
    post I may see (404 ``video_not_found`` for anyone else's unpublished, hidden
    or removed video, as for an unknown one)."""
    job = await jobs.get_job(stores, video_id)
    if job is not None and job.owner_id == user.id:
        return await _usable_own(stores, job)
    post = await feed_posts.post_for_video(stores, video_id) if job is not None and job.status == "completed" else None
    if post is None or not (await view_decision(stores, post, user.id)).allowed:
        raise NotFound(f"no video {video_id!r}", code="video_not_found")
    return job


async def moderate(stores: Stores, settings: Settings, user: User, prompt: str, use: cameo_use.CameoUse) -> bool:
    """A new video's prompt moderation (a refusal is audited; ``count_video`` comes first).
    The cameos the creator may use are passed on: a real person named in the prompt is allowed only
    as such a cameo, and a cameo on screen makes the thresholds stricter. A minor's prompts get the
    strict thresholds; returns whether the job must be checked strictly (its ``strict_moderation``)."""
    names = [c.name for c in use.resolved.cameos]
    strict = await minors.is_minor_user(stores, user.id)
    # the classifier is CPU work (and loads once): off the event loop
    decision = await asyncio.to_thread(moderate_prompt, prompt, cameo_names=names, has_cameo=bool(use.resolved), strict=strict)
    if not decision.allowed:
        await audit.prompt_refused(stores, user.id, prompt, decision.category, decision.reason)
        raise PolicyViolation(
            decision.reason or "refused", code="moderation_blocked", details={"category": decision.category, "field": "prompt"}
        )
    return strict


async def check_upload(
    stores: Stores, settings: Settings, user: User, png: bytes, field: str, prompt: str, use: cameo_use.CameoUse, *, strict: bool
) -> tuple[cameo_use.CameoUse, bool]:
    """An uploaded picture's faces and nudity (``cameos.reference_faces``, in a thread): 422
    ``moderation_blocked`` with the category, audited, and nothing stored. A face must be a cameo
    the uploader may use; the cameos it shows join the video's (``cameo_use.with_pictured``), and
    the prompt is moderated again with them on screen (stricter thresholds). Returns the cameos
    and whether the job is checked strictly."""
    verdict = await reference_faces.judge_reference(stores, user.id, png, strict=strict)
    if not verdict.decision.allowed:
        await audit.upload_refused(stores, user.id, verdict.decision.category, verdict.decision.reason, field)
        raise moderation_blocked(verdict.decision, field)
    pictured = await cameo_use.with_pictured(stores, use, user_id=user.id, prompt=prompt, cameo_ids=verdict.cameo_ids)
    if pictured is not use:
        strict = await moderate(stores, settings, user, prompt, pictured)
    return pictured, strict


async def check_quota(stores: Stores, settings: Settings, user: User) -> None:
    active, queued = await jobs.count_unfinished(stores, user.id)
    quota = decide_enqueue(active, queued, QuotaLimits.from_settings(settings))
    if not quota.allowed:
        raise RateLimited(quota.reason or "too many videos in the queue", code="quota_exceeded", details={"in_progress": active, "queued": queued})


async def require_image_model(settings: Settings, what: str, field: str | None = None) -> None:
    """400 ``unsupported`` when the served model takes no picture (``field``: the request's field that gave one)."""
    if not model_takes_images(settings.model):
        raise BadRequest(
            f"{what} is not supported: model {settings.model!r} makes video from text only",
            code="unsupported",
            details={"field": field} if field else None,
        )


async def store_reference(stores: Stores, settings: Settings, job: jobs.Job, png: bytes) -> None:
    """Store a new job's reference image; on failure the job is removed again (nothing half-written)."""
    try:
        await media_store(settings).put_bytes(job.id, "reference", png)
    except Exception:
        await jobs.delete_job(stores, job.id)
        await guarded("write", media_store(settings).delete(job.id))
        raise


async def queue_with_reference(stores: Stores, settings: Settings, job: jobs.Job, png: bytes | None) -> None:
    """Store the job's reference image (if any) and queue the job. A job that
    could not be queued (Redis gone half-way through the request) is removed
    again, reference and all, before the error goes out: otherwise it would
    wait as ``queued`` for a worker that never hears of it."""
    if png is not None:
        await guarded("write", store_reference(stores, settings, job, png))
    try:
        await queue.enqueue(stores, job)
    except Exception:
        await jobs.delete_job(stores, job.id)
        if png is not None:
            await guarded("delete", media_store(settings).delete(job.id))
        raise


async def owned_job(stores: Stores, video_id: str, user: User) -> jobs.Job:
    job = await jobs.get_job(stores, video_id)
    if job is None or job.owner_id != user.id:
        raise NotFound(f"no video {video_id!r}", code="video_not_found")
    return job


@post(
    "/v1/videos",
    dependencies=AUTH,
    operation_class=CreateVideoOperation,
    responses=openai_errors(401, 403, 415, 422, 429, 503),
    status_code=200,
    tags=["videos"],
    request_max_body_size=None,  # decode_json_or_form applies max_body_bytes, or that plus max_upload_bytes for forms
)
async def create_video(request: Request, stores: StoresDep, settings: SettingsDep, user: UserDep) -> Response[VideoObject]:
    """Queue a video. JSON or multipart/form-data (as the OpenAI SDK sends it),
    or a urlencoded form (the multipart form's fields, without the file).

    ``input_reference`` (a PNG, JPEG or WebP upload, or a JSON
    ``{"image_url": "data:..."}``) conditions the first frame (image-to-video)."""
    body, uploads = await decode_json_or_form(
        request, CreateVideo, files=("input_reference",), max_bytes=settings.max_body_bytes, max_form_bytes=form_limit(settings)
    )
    spec = resolve_spec(body, settings)
    await count_video(stores, settings, user)
    reference: bytes | None = None
    if "input_reference" in uploads or body.input_reference is not None:
        await require_image_model(settings, "input_reference", "input_reference")
        given = body.input_reference
        reference = await reference_png(
            upload=uploads.get("input_reference"),
            image_url=given.image_url if given else None,
            file_id=given.file_id if given else None,
            limit=settings.max_upload_bytes,
        )
    use = await cameo_use.prepare(
        stores, settings, user_id=user.id, prompt=body.prompt, model=spec.model,
        width=spec.width, height=spec.height, has_reference=reference is not None,
    )
    strict = await moderate(stores, settings, user, body.prompt, use)
    if reference is not None:  # the upload (a cameo's own picture below is verified already)
        use, strict = await check_upload(stores, settings, user, reference, "input_reference", body.prompt, use, strict=strict)
    reference = reference if reference is not None else use.reference
    await check_quota(stores, settings, user)
    job = await jobs.create_job(
        stores,
        owner_id=user.id,
        prompt=body.prompt,
        creator_handle=user.handle,
        **spec.job_fields(),
        steps=body.steps,
        seed=body.seed,
        reference=reference is not None,
        cameos=use.ids,
        render_prompt=use.render_prompt,
        cameo_consents=use.consents(user.id),
        strict_moderation=strict,
    )
    await cameo_use.record(stores, use.resolved, video_id=job.id, creator_id=user.id)
    await queue_with_reference(stores, settings, job, reference)
    return Response(video_object(job), headers=poll_headers(job))


@get("/v1/videos/{video_id:str}", dependencies=AUTH, responses=openai_errors(401, 404), tags=["videos"])
async def retrieve_video(video_id: FromPath[str], stores: StoresDep, user: UserDep) -> Response[VideoObject]:
    job = await owned_job(stores, video_id, user)
    return Response(video_object(job), headers=poll_headers(job))


@get("/v1/videos", dependencies=AUTH, responses=openai_errors(401), tags=["videos"])
async def list_videos(
    stores: StoresDep,
    user: UserDep,
    after: Annotated[str | None, Parameter(max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    order: Annotated[str, Parameter(pattern="^(asc|desc)$")] = "desc",
) -> VideoList:
    rows = await jobs.list_jobs(stores, user.id, after=after, limit=limit + 1, newest_first=order == "desc")
    page = [video_object(job) for job in rows[:limit]]
    return VideoList(
        data=page,
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=len(rows) > limit,
    )


@get(
    "/v1/videos/{video_id:str}/content",
    dependencies=AUTH,
    responses=openai_errors(401, 404, 409, 416, 503),
    operation_class=media_operation("video/mp4", "image/jpeg"),
    tags=["videos"],
)
async def video_content(
    request: Request,
    video_id: FromPath[str],
    stores: StoresDep,
    settings: SettingsDep,
    user: UserDep,
    variant: Annotated[str, Parameter(pattern="^(video|thumbnail|spritesheet)$")] = "video",
) -> Response:
    """The finished MP4 (H.264 + AAC), its JPEG thumbnail, or its JPEG
    spritesheet (up to 16 frames in a grid, made on first request); honours
    ``Range`` with 206."""
    job = await owned_job(stores, video_id, user)
    if job.status != "completed":
        raise Conflict(f"video {video_id!r} is {job.status}; content is ready once it is completed", code="video_not_ready")
    store = media_store(settings)
    if variant == "spritesheet":
        await guarded("spritesheet", ensure_spritesheet(store, job.id))
    missing = NotFound(f"video {video_id!r} has no {variant} stored", code="media_not_found")
    return await guarded(
        "read",
        media_response(store, job.id, variant, request.headers.get("range"), filename=f"{job.id}{store.suffix(variant)}", missing=missing),
    )


@get(
    "/v1/videos/{video_id:str}/preview",
    dependencies=AUTH,
    responses=openai_errors(401, 404),
    operation_class=media_operation("image/jpeg", ranges=False),
    tags=["videos"],
)
async def video_preview(video_id: FromPath[str], stores: StoresDep, user: UserDep) -> Response:
    """The latest live preview of a running video (JPEG), with its denoising
    step in ``X-Preview-Step`` / ``X-Preview-Steps``; 404 ``preview_not_found``
    until the first step is done. Previews are kept for an hour."""
    job = await owned_job(stores, video_id, user)
    newest = await previews.latest(stores, job.id)
    if newest is None:
        raise NotFound(f"video {video_id!r} has no preview yet", code="preview_not_found")
    _, preview = newest
    return Response(
        preview.image,
        media_type=preview.content_type,
        headers={
            "X-Preview-Step": str(preview.step),
            "X-Preview-Steps": str(preview.steps),
            "Cache-Control": "no-store",
            **poll_headers(job),
        },
    )


@delete(
    "/v1/videos/{video_id:str}",
    dependencies=AUTH,
    responses=openai_errors(401, 404, 503),
    status_code=200,
    tags=["videos"],
)
async def delete_video(video_id: FromPath[str], stores: StoresDep, settings: SettingsDep, user: UserDep) -> DeletedVideo:
    """Delete a video: a queued or running one is cancelled first; its post,
    media (video, thumbnail, spritesheet, reference) and previews go with it."""
    job = await owned_job(stores, video_id, user)
    if not job.done:
        await cancel_job(stores, job.id, reason="deleted")
    await publishing.delete_for_video(stores, job.id)
    await guarded("delete", media_store(settings).delete(job.id))
    await previews.clear(stores, job.id)
    await jobs.delete_job(stores, job.id)
    return DeletedVideo(id=job.id)


@post(
    "/v1/videos/{video_id:str}/remix",
    dependencies=AUTH,
    responses=openai_errors(401, 403, 404, 409, 415, 422, 429, 503),
    status_code=200,
    tags=["videos"],
    operation_class=RemixVideoOperation,
)
async def remix_video(
    request: Request, video_id: FromPath[str], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> Response[VideoObject]:
    """A new video from a completed one with a new prompt: one of mine, or the
    video of a post I can see (anyone's, as the feed shows it). Same model,
    size, length, steps and seed (so the composition carries over), and its
    reference image if it had one. Every cameo the source features must be
    one I may use; published, the remix names its source post, whose author
    is told."""
    body, _ = await decode_json_or_form(request, RemixVideo)
    source = await remix_source(stores, video_id, user)
    await count_video(stores, settings, user)
    reference = await guarded("read", media_store(settings).get_bytes(source.id, "reference")) if source.reference else None
    use = await cameo_use.prepare(
        stores, settings, user_id=user.id, prompt=body.prompt, model=source.model, width=source.width,
        height=source.height, has_reference=reference is not None, source_video_id=source.id,
    )
    strict = await moderate(stores, settings, user, body.prompt, use)
    reference = reference if reference is not None else use.reference
    await check_quota(stores, settings, user)
    job = await jobs.create_job(
        stores,
        owner_id=user.id,
        prompt=body.prompt,
        creator_handle=user.handle,
        **VideoSpec.like(source).job_fields(),
        steps=source.steps,
        seed=job_seed(source),
        remixed_from_video_id=source.id,
        reference=reference is not None,
        extend_of=source.extend_of,
        cameos=use.ids,
        render_prompt=use.render_prompt,
        cameo_consents=use.consents(user.id),
        strict_moderation=strict,
    )
    await cameo_use.record(stores, use.resolved, video_id=job.id, creator_id=user.id)
    await queue_with_reference(stores, settings, job, reference)
    return Response(video_object(job), headers=poll_headers(job))


@post(
    "/v1/videos/extensions",
    dependencies=AUTH,
    operation_class=ExtendVideoOperation,
    responses=openai_errors(401, 403, 404, 409, 415, 422, 429, 503),
    status_code=200,
    tags=["videos"],
    request_max_body_size=None,  # decode_json_or_form applies max_body_bytes, or that plus max_upload_bytes for forms
)
async def extend_video(request: Request, stores: StoresDep, settings: SettingsDep, user: UserDep) -> Response[VideoObject]:
    """Continue a video: a new clip of ``seconds`` whose first frame is
    conditioned on the source's last frame (image-to-video). The source is
    ``video: {"id"}`` (one of my completed videos; JSON, or ``video[id]`` in
    a form) or an uploaded video file (what the OpenAI SDK sends). The new
    video holds the continuation only (``seconds`` is its own length) and
    names its source in ``extend_of``."""
    body, uploads = await decode_json_or_form(
        request, ExtendVideo, files=("video",), max_bytes=settings.max_body_bytes, max_form_bytes=form_limit(settings)
    )
    upload = uploads.get("video")
    if (upload is None) == (body.video is None):
        raise field_error("video", "give the video to extend: either video {\"id\"} or a video file")
    seconds = parse_seconds(body.seconds, settings)
    await require_image_model(settings, "extending a video")
    await count_video(stores, settings, user)
    if body.video is not None:
        source = await completed_source(stores, body.video.id, user)
        spec = VideoSpec.like(source, seconds=seconds)
        reference = await last_frame_of_stored(media_store(settings), source.id)
        extend_of: str | None = source.id
    else:
        reference = await last_frame_of_upload(upload, settings.max_upload_bytes)
        width, height = _png_size(reference)
        try:
            size = resolve_size(f"{width}x{height}", settings)
        except BadRequest:  # the worker fits the frame to the size asked for
            size = resolve_size(settings.default_size, settings)
        spec = VideoSpec(
            model=settings.model, width=size.width, height=size.height, seconds=seconds,
            output_width=size.output_width, output_height=size.output_height,
        )
        extend_of = None
    use = await cameo_use.prepare(
        stores, settings, user_id=user.id, prompt=body.prompt, model=spec.model, width=spec.width,
        height=spec.height, has_reference=True, source_video_id=extend_of,
    )
    strict = await moderate(stores, settings, user, body.prompt, use)
    if upload is not None:  # an uploaded video's last frame is an uploaded picture too
        use, strict = await check_upload(stores, settings, user, reference, "video", body.prompt, use, strict=strict)
    await check_quota(stores, settings, user)
    job = await jobs.create_job(
        stores,
        owner_id=user.id,
        prompt=body.prompt,
        creator_handle=user.handle,
        **spec.job_fields(),
        steps=body.steps,
        seed=body.seed,
        reference=True,
        extend_of=extend_of,
        cameos=use.ids,
        render_prompt=use.render_prompt,
        cameo_consents=use.consents(user.id),
        strict_moderation=strict,
    )
    await cameo_use.record(stores, use.resolved, video_id=job.id, creator_id=user.id)
    await queue_with_reference(stores, settings, job, reference)
    return Response(video_object(job), headers=poll_headers(job))


def _png_size(png: bytes) -> tuple[int, int]:
    # PNG: 8-byte signature, then the IHDR chunk (length, type, width, height)
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@post(
    "/v1/videos/edits",
    dependencies=AUTH,
    responses=openai_errors(401),
    status_code=200,
    tags=["videos"],
    operation_class=EditVideoOperation,
)
async def edit_video(user: UserDep) -> VideoObject:
    """Not supported here: always 400 ``unsupported``. The served pipelines
    make video from text or from an image, not from a video; use
    ``/v1/videos/{id}/remix`` (same seed, new prompt) or
    ``/v1/videos/extensions`` instead."""
    raise BadRequest(
        "editing a video is not supported: the models served here make video from text or an image, not from a video; "
        "use POST /v1/videos/{id}/remix (a new prompt on the same seed) or POST /v1/videos/extensions",
        code="unsupported",
    )


@post(
    "/v1/videos/{video_id:str}/cancel",
    dependencies=AUTH,
    responses=openai_errors(401, 404, 409),
    status_code=200,
    tags=["videos"],
)
async def cancel_video(video_id: FromPath[str], stores: StoresDep, user: UserDep) -> VideoObject:
    """Stop a queued or running video: it fails with error code ``cancelled``;
    a running one stops within one denoising step and writes nothing."""
    job = await owned_job(stores, video_id, user)
    if not await cancel_job(stores, job.id):
        job = await owned_job(stores, video_id, user)
        raise Conflict(f"video {video_id!r} is already {job.status}", code="video_finished")
    return video_object(await owned_job(stores, video_id, user))


ROUTES = [
    create_video,
    retrieve_video,
    list_videos,
    video_content,
    cancel_video,
    video_preview,
    delete_video,
    remix_video,
    extend_video,
    edit_video,
]
