"""The Videos API: create, retrieve, list and download generated videos."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.params import Parameter

from accounts.users import User
from core.errors import Conflict, NotFound, PolicyViolation
from core.settings import Settings
from core.stores import Stores
from gen import jobs, queue
from gen.media import LocalMediaStore
from policy.prompt import moderate_prompt
from server.auth import AUTH
from server.body import decode_json_or_form
from server.openapi import errors
from server.ranges import file_response
from server.videos_schema import CreateVideo, VideoObject, resolve_spec, video_object

POLL_AFTER_MS = "1000"


class VideoList(msgspec.Struct):
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool
    object: str = "list"


_CREATE_SCHEMA = Schema(
    type="object",
    required=["prompt"],
    properties={
        "prompt": Schema(type="string"),
        "model": Schema(type="string"),
        "seconds": Schema(type="string", description="clip length in seconds, e.g. \"4\""),
        "size": Schema(type="string", description="WIDTHxHEIGHT, e.g. 64x64"),
        "seed": Schema(type="integer"),
        "steps": Schema(type="integer"),
    },
)


class CreateVideoOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(schema=_CREATE_SCHEMA),
                "multipart/form-data": OpenAPIMediaType(schema=_CREATE_SCHEMA),
            },
        )


async def owned_job(stores: Stores, video_id: str, user: User) -> jobs.Job:
    job = await jobs.get_job(stores, video_id)
    if job is None or job.owner_id != user.id:
        raise NotFound(f"no video {video_id!r}", code="video_not_found")
    return job


@post(
    "/v1/videos",
    dependencies=AUTH,
    operation_class=CreateVideoOperation,
    responses=errors(401, 415, 422),
    status_code=200,
    tags=["videos"],
)
async def create_video(request: Request, stores: Stores, settings: Settings, user: User) -> Response[VideoObject]:
    """Queue a video. JSON or multipart/form-data (as the OpenAI SDK sends it)."""
    body, _ = await decode_json_or_form(request, CreateVideo)
    spec = resolve_spec(body, settings)
    decision = moderate_prompt(body.prompt)
    if not decision.allowed:
        raise PolicyViolation(decision.reason or "refused", code="prompt_refused", details={"category": decision.category})
    job = await jobs.create_job(
        stores,
        owner_id=user.id,
        prompt=body.prompt,
        model=spec.model,
        width=spec.width,
        height=spec.height,
        seconds=spec.seconds,
        steps=body.steps,
        seed=body.seed,
    )
    await queue.enqueue(stores, job.id)
    return Response(video_object(job), headers={"openai-poll-after-ms": POLL_AFTER_MS})


@get("/v1/videos/{video_id:str}", dependencies=AUTH, responses=errors(401, 404), tags=["videos"])
async def retrieve_video(video_id: str, stores: Stores, user: User) -> Response[VideoObject]:
    job = await owned_job(stores, video_id, user)
    headers = {} if job.done else {"openai-poll-after-ms": POLL_AFTER_MS}
    return Response(video_object(job), headers=headers)


@get("/v1/videos", dependencies=AUTH, responses=errors(401), tags=["videos"])
async def list_videos(
    stores: Stores,
    user: User,
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
    responses=errors(401, 404, 409, 416),
    tags=["videos"],
)
async def video_content(
    request: Request,
    video_id: str,
    stores: Stores,
    settings: Settings,
    user: User,
    variant: Annotated[str, Parameter(pattern="^(video|thumbnail)$")] = "video",
) -> Response:
    """The finished MP4 (or its thumbnail); honours ``Range`` with 206."""
    job = await owned_job(stores, video_id, user)
    media = LocalMediaStore(settings.media_root)
    if job.status != "completed" or not media.exists(job.id, variant):
        raise Conflict(f"video {video_id!r} is {job.status}; content is ready once it is completed", code="video_not_ready")
    return file_response(
        media.path(job.id, variant),
        media.content_type(variant),
        request.headers.get("range"),
        filename=f"{job.id}.{'mp4' if variant == 'video' else 'jpg'}",
    )


ROUTES = [create_video, retrieve_video, list_videos, video_content]
