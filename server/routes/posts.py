"""Posts: publish one of my completed videos, read, edit, delete, stream its
media; profile grids and my drafts (completed videos not yet published)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter
from msgspec import Meta

from accounts import users
from accounts.graph import is_blocked_between, is_following
from accounts.users import User
from core.errors import BadRequest, Conflict, Forbidden, NotFound
from core.ids import has_kind
from core.stores import Stores
from core.text import TEXT_SCHEMA, check_not_blank, check_text
from feed import publishing, takedown
from feed.social import posts as feed_posts
from cameos import appearances
from cameos.resolve import check_video_cameos
from feed.social import remixes
from feed.social.visibility import post_not_found, view_decision
from feed.social.visibility import visible_post as _visible_post
from gen import jobs
from policy.visibility import visible_kinds
from server.auth import AUTH, UserDep
from server.media import guarded, media_store
from server.openapi import errors, media_operation
from server.post_views import PostView, post_views
from server.ranges import media_response
from server.state import SettingsDep, StoresDep
from server.videos_schema import VideoObject, video_object

Caption = Annotated[str, Meta(max_length=2200, description="at most 2200 characters", extra_json_schema=TEXT_SCHEMA)]
VisibilityField = Annotated[
    Literal["public", "followers", "private"],
    Meta(description="public: everyone; followers: my followers; private: only me"),
]
Limit = Annotated[int, Parameter(ge=1, le=50, description="page size, 1 to 50")]
Cursor = Annotated[str | None, Parameter(max_length=64, description="next_cursor of the previous page")]
CAMEO_POST_BATCH, CAMEO_POST_BATCHES = 50, 4


class PublishPost(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    video_id: Annotated[str, Meta(min_length=1, max_length=64)]
    caption: Caption = ""
    visibility: VisibilityField = "public"
    # the post this video remixes; only for videos made as remixes. Without it
    # the post of the video's remixed_from_video_id (when published) is used.
    remix_of: Annotated[str, Meta(min_length=1, max_length=64)] | None = None

    def __post_init__(self) -> None:
        check_text("caption", self.caption)
        check_not_blank("caption", self.caption)


class PostPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields to change; absent fields stay as they are."""

    caption: Caption | msgspec.UnsetType = msgspec.UNSET
    visibility: VisibilityField | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_text("caption", self.caption)
        check_not_blank("caption", self.caption)


class PostDeleted(msgspec.Struct, kw_only=True):
    id: str
    object: str = "post.deleted"
    deleted: bool = True


class PostPage(msgspec.Struct, kw_only=True):
    data: list[PostView]
    next_cursor: str | None
    object: str = "list"


class DraftPage(msgspec.Struct, kw_only=True):
    data: list[VideoObject]
    next_cursor: str | None
    object: str = "list"


def check_cursor(value: str | None, kind: str) -> str | None:
    """A page cursor must be an id of the listed kind (anything else would page
    from an arbitrary point)."""
    if value is None:
        return None
    rest = value[len(kind) + 1 :]
    if not (has_kind(value, kind) and rest.isascii() and rest.isalnum()):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")
    return value


async def shown_post(stores: Stores, post_id: str, viewer: User) -> feed_posts.Post:
    """The post, if the viewer may see it; 410 ``post_removed`` when the
    moderators took down a post the viewer could see; 404 otherwise."""
    try:
        return await _visible_post(stores, post_id, viewer.id)
    except NotFound:
        await takedown.refuse_if_removed(stores, post_id, viewer.id)
        raise


async def visible_post(stores: Stores, post_id: str, viewer: User) -> feed_posts.Post:
    return await _visible_post(stores, post_id, viewer.id)


async def own_post(stores: Stores, post_id: str, user: User) -> feed_posts.Post:
    """A post of mine: 404 when I cannot see it, 403 when I can but it is not mine."""
    found = await _visible_post(stores, post_id, user.id)
    if found.author_id != user.id:
        raise Forbidden("only the post's author can change it", code="not_post_owner")
    return found


def clip_length_ms(job: jobs.Job) -> int | None:
    """A finished video's length in milliseconds (its frames at its rate; else the seconds asked for)."""
    if job.media is not None and job.media.fps:
        return round(job.media.frames * 1000 / job.media.fps)
    return job.seconds * 1000 if job.seconds else None


async def _remix_source(stores: Stores, job: jobs.Job, remix_of: str | None, user: User) -> feed_posts.Post | None:
    """The post a new post remixes: the post of the video this one was made
    from (``remixed_from_video_id``), when published and visible to me.
    ``remix_of``, when given, must name that very post."""
    if remix_of is not None:
        if job.remixed_from_video_id is None:
            raise BadRequest("remix_of is only for videos made as remixes", code="not_a_remix")
        named = await _visible_post(stores, remix_of, user.id)
        if named.video_id != job.remixed_from_video_id:
            raise BadRequest(
                "remix_of must be the post of the video this one was remixed from",
                code="not_remix_source",
                details={"remixed_from_video_id": job.remixed_from_video_id},
            )
        return named
    source = await remixes.source_post(stores, job.remixed_from_video_id)
    if source is None or not (await view_decision(stores, source, user.id)).allowed:
        return None  # an unpublished or hidden source: the remix stands alone
    return source


@post("/v1/posts", dependencies=AUTH, responses=errors(401, 403, 404, 409), tags=["posts"])
async def publish_post(data: JSONBody[PublishPost], stores: StoresDep, user: UserDep) -> PostView:
    """Publish one of my completed videos (once per video). A draft that
    features cameos is checked again: a grant revoked, or a cameo paused or
    deleted since it was made, refuses with 403 ``cameo_permission_denied``."""
    job = await jobs.get_job(stores, data.video_id)
    if job is None or job.owner_id != user.id:
        raise NotFound(f"no video {data.video_id!r}", code="video_not_found")
    if job.status != "completed":
        raise Conflict(f"video {data.video_id!r} is {job.status}; only completed videos can be published", code="video_not_ready")
    if job.cameos:
        await check_video_cameos(stores, user.id, job.id, job.prompt)
    await takedown.refuse_removed_video(stores, job.id)
    source = await _remix_source(stores, job, data.remix_of, user)
    created = await publishing.publish(
        stores,
        author_id=user.id,
        video_id=job.id,
        caption=data.caption,
        visibility=data.visibility,
        prompt=job.prompt,
        remix_of=source,
        duration_ms=clip_length_ms(job),
    )
    return (await post_views(stores, [created], user.id))[0]


@get("/v1/posts/{post_id:str}", dependencies=AUTH, responses=errors(401, 404, 410), tags=["posts"])
async def get_post(post_id: FromPath[str], stores: StoresDep, user: UserDep) -> PostView:
    """A post I may see (404 otherwise: unknown, hidden by its visibility, or
    across a block; 410 ``post_removed`` once the moderators took it down)."""
    return (await post_views(stores, [await shown_post(stores, post_id, user)], user.id))[0]


@patch("/v1/posts/{post_id:str}", dependencies=AUTH, responses=errors(401, 403, 404), tags=["posts"])
async def edit_post(post_id: FromPath[str], data: JSONBody[PostPatch], stores: StoresDep, user: UserDep) -> PostView:
    """Edit my post's caption or visibility."""
    await own_post(stores, post_id, user)
    updated = await publishing.update_post(stores, post_id, author_id=user.id, caption=data.caption, visibility=data.visibility)
    if updated is None:  # deleted meanwhile
        raise post_not_found(post_id)
    return (await post_views(stores, [updated], user.id))[0]


@delete("/v1/posts/{post_id:str}", status_code=200, dependencies=AUTH, responses=errors(401, 403, 404), tags=["posts"])
async def delete_post(post_id: FromPath[str], stores: StoresDep, user: UserDep) -> PostDeleted:
    """Delete my post with its likes, comments and shares; the video becomes a draft again."""
    await own_post(stores, post_id, user)
    if await publishing.delete_post(stores, post_id, author_id=user.id) is None:
        raise post_not_found(post_id)
    return PostDeleted(id=post_id)


@get(
    "/v1/posts/{post_id:str}/content",
    dependencies=AUTH,
    responses=errors(401, 404, 410, 416, 503),
    operation_class=media_operation("video/mp4", "image/jpeg"),
    tags=["posts"],
)
async def post_content(
    request: Request,
    post_id: FromPath[str],
    stores: StoresDep,
    settings: SettingsDep,
    user: UserDep,
    variant: Annotated[str, Parameter(pattern="^(video|thumbnail)$")] = "video",
) -> Response:
    """A post's MP4 or thumbnail; honours ``Range`` with 206 (410 once the post was taken down)."""
    found = await shown_post(stores, post_id, user)
    return await guarded(
        "read",
        media_response(
            media_store(settings),
            found.video_id,
            variant,
            request.headers.get("range"),
            missing=NotFound(f"post {post_id!r} has no {variant}", code="media_not_found"),
        ),
    )


@get("/v1/users/{handle:str}/posts", dependencies=AUTH, responses=errors(401, 404), tags=["posts"])
async def user_posts(handle: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20) -> PostPage:
    """A profile grid: the user's posts I may see, newest first."""
    check_cursor(cursor, "post")
    target = await users.get_by_handle(stores, handle)
    if target is None:
        raise users.no_such_user()
    is_author = target.id == user.id
    blocked = not is_author and await is_blocked_between(stores, user.id, target.id)
    if blocked:
        raise users.no_such_user()
    follows = not is_author and await is_following(stores, user.id, target.id)
    kinds = visible_kinds(is_author=is_author, viewer_follows_author=follows, blocked=blocked)
    rows = await feed_posts.posts_of_author(stores, target.id, visibilities=kinds, before=cursor, limit=limit + 1)
    page = rows[:limit]
    return PostPage(data=await post_views(stores, page, user.id), next_cursor=page[-1].id if len(rows) > limit else None)


@get("/v1/users/{handle:str}/cameo-posts", dependencies=AUTH, responses=errors(400, 401, 404), tags=["posts"])
async def user_cameo_posts(handle: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20) -> PostPage:
    """A profile's cameos tab: published posts that feature the user's cameos
    (made by anyone), those I may see, newest use first. ``next_cursor`` is
    an appearance cursor: pass it back as ``cursor``."""
    target = await users.get_by_handle(stores, handle)
    if target is None or (target.id != user.id and await is_blocked_between(stores, user.id, target.id)):
        raise users.no_such_user()
    shown: list[feed_posts.Post] = []
    seen: set[str] = set()
    before, more = cursor, True
    for _ in range(CAMEO_POST_BATCHES):  # a bounded walk past drafts and posts hidden from me
        batch = await appearances.of_owner(stores, target.id, before=before, limit=CAMEO_POST_BATCH)
        more = len(batch) == CAMEO_POST_BATCH
        for used in batch:
            before = used.k
            if used.video_id in seen:
                continue
            seen.add(used.video_id)
            found = await feed_posts.post_for_video(stores, used.video_id)
            if found is not None and (await view_decision(stores, found, user.id)).allowed:
                shown.append(found)
                if len(shown) == limit:
                    break
        if len(shown) == limit or not more:
            break
    done = len(shown) < limit and not more
    return PostPage(data=await post_views(stores, shown, user.id), next_cursor=None if done else before)


DRAFT_SCAN = 200  # completed videos one drafts page reads at most


@get("/v1/me/drafts", dependencies=AUTH, responses=errors(401), tags=["posts"])
async def my_drafts(stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20) -> DraftPage:
    """My completed videos that are not published, newest first.

    A page reads at most 200 of my completed videos (through an index of
    owner, status and creation order); when they are mostly published, a page may hold
    fewer than ``limit`` drafts, even none, with a ``next_cursor`` to go on."""
    after = check_cursor(cursor, "video")
    drafts: list[jobs.Job] = []
    scanned, ended = 0, False
    while len(drafts) <= limit and scanned < DRAFT_SCAN:
        want = min(max(limit + 1, 50), DRAFT_SCAN - scanned)
        batch = await jobs.list_by_status(stores, user.id, "completed", before=after, limit=want)
        scanned += len(batch)
        published = await feed_posts.published_video_ids(stores, [job.id for job in batch])
        drafts.extend(job for job in batch if job.id not in published)
        if len(batch) < want:
            ended = True
            break
        after = batch[-1].id
    page = drafts[:limit]
    if len(drafts) > limit:
        next_cursor: str | None = page[-1].id
    else:
        next_cursor = None if ended else after
    return DraftPage(data=[video_object(job) for job in page], next_cursor=next_cursor)


ROUTES = [publish_post, get_post, edit_post, delete_post, post_content, user_posts, user_cameo_posts, my_drafts]
