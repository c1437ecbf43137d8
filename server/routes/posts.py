"""Publishing videos as posts, reading a post and streaming its media."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.params import Parameter
from msgspec import Meta

from accounts.graph import is_blocked_between
from accounts.users import User
from core.errors import Conflict, NotFound
from core.settings import Settings
from core.stores import Stores
from feed import posts as feed_posts
from gen import jobs
from gen.media import LocalMediaStore
from server.auth import AUTH
from server.openapi import errors
from server.post_views import PostView, post_views
from server.ranges import file_response


class PublishPost(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    video_id: Annotated[str, Meta(min_length=1, max_length=64)]
    caption: Annotated[str, Meta(max_length=2200)] = ""


async def visible_post(stores: Stores, post_id: str, viewer: User) -> feed_posts.Post:
    found = await feed_posts.get_post(stores, post_id)
    if found is None or (found.author_id != viewer.id and await is_blocked_between(stores, found.author_id, viewer.id)):
        raise NotFound(f"no post {post_id!r}", code="post_not_found")
    return found


@post("/v1/posts", dependencies=AUTH, responses=errors(401, 404, 409), tags=["posts"])
async def publish_post(data: PublishPost, stores: Stores, user: User) -> PostView:
    """Publish one of my completed videos."""
    job = await jobs.get_job(stores, data.video_id)
    if job is None or job.owner_id != user.id:
        raise NotFound(f"no video {data.video_id!r}", code="video_not_found")
    if job.status != "completed":
        raise Conflict(f"video {data.video_id!r} is {job.status}; only completed videos can be published", code="video_not_ready")
    created = await feed_posts.publish(stores, author_id=user.id, video_id=job.id, caption=data.caption)
    return (await post_views(stores, [created]))[0]


@get("/v1/posts/{post_id:str}", dependencies=AUTH, responses=errors(401, 404), tags=["posts"])
async def get_post(post_id: str, stores: Stores, user: User) -> PostView:
    return (await post_views(stores, [await visible_post(stores, post_id, user)]))[0]


@get(
    "/v1/posts/{post_id:str}/content",
    dependencies=AUTH,
    responses=errors(401, 404, 416),
    tags=["posts"],
)
async def post_content(
    request: Request,
    post_id: str,
    stores: Stores,
    settings: Settings,
    user: User,
    variant: Annotated[str, Parameter(pattern="^(video|thumbnail)$")] = "video",
) -> Response:
    """A post's MP4 or thumbnail; honours ``Range`` with 206."""
    found = await visible_post(stores, post_id, user)
    media = LocalMediaStore(settings.media_root)
    if not media.exists(found.video_id, variant):
        raise NotFound(f"post {post_id!r} has no {variant}", code="media_not_found")
    return file_response(media.path(found.video_id, variant), media.content_type(variant), request.headers.get("range"))


ROUTES = [publish_post, get_post, post_content]
