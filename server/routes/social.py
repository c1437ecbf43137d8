"""What people do with posts: likes, comments and replies, shares, views,
remixes (children and the chain up to the root), and the public share link.

Every action needs the post to be visible to the actor (its visibility, and
no block between actor and author): otherwise the same 404 as for an unknown
post, and nothing is written."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, delete, get, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from accounts.graph import blocked_among
from core import rate_limit
from core.clock import unix
from core.errors import BadRequest
from core.stores import Stores
from core.text import TEXT_SCHEMA, check_text, is_blank
from feed.social import comments, counters, likes, remixes, shares, views
from feed.social.authors import Author, authors
from feed.social.comments import Comment, comment_not_found
from feed.social.posts import get_post
from feed.social.visibility import post_not_found, visible_comment, visible_post, visible_posts
from gen import jobs
from server.auth import AUTH, UserDep
from server.openapi import errors
from server.post_views import PostView, post_views
from server.routes.app import share_page, wants_html
from server.routes.posts import Cursor, Limit, PostPage, check_cursor, clip_length_ms
from server.state import SettingsDep, StoresDep


class LikeOut(msgspec.Struct, kw_only=True):
    post_id: str
    liked: bool
    likes: int


class NewComment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=1, max_length=comments.MAX_TEXT, description="1 to 1000 characters", extra_json_schema=TEXT_SCHEMA)]
    # a comment of this post to reply to; a reply to a reply joins its top-level comment
    reply_to: Annotated[str, Meta(min_length=1, max_length=64)] | None = None

    def __post_init__(self) -> None:
        if is_blank(self.text):  # spaces, or characters that show nothing (a zero-width space)
            raise ValueError("text: must not be blank")
        check_text("text", self.text)


class CommentView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "comment"
    post_id: str
    author: Author | None  # None on a deleted comment kept for its replies
    text: str
    parent_id: str | None
    reply_to_id: str | None
    reply_count: int
    deleted: bool
    created_at: int


class CommentPage(msgspec.Struct, kw_only=True):
    data: list[CommentView]
    next_cursor: str | None
    object: str = "list"


class CommentDeleted(msgspec.Struct, kw_only=True):
    id: str
    object: str = "comment.deleted"
    deleted: bool = True


class ShareOut(msgspec.Struct, kw_only=True):
    post_id: str
    url: str
    shares: int


class NewView(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    watch_ms: Annotated[int, Meta(ge=0, le=views.MAX_WATCH_MS, description="milliseconds watched, up to an hour")]
    completed: bool = False


class ViewOut(msgspec.Struct, kw_only=True):
    post_id: str
    views: int


class Chain(msgspec.Struct, kw_only=True):
    """A post's ancestors, nearest first: the post it remixes, that one's source, … up to the root.
    ``complete`` is false when the chain stops at a post that is deleted or hidden from me."""

    post_id: str
    data: list[PostView]
    complete: bool
    object: str = "list"


# --- likes ---------------------------------------------------------------------


async def _like_out(stores: Stores, post_id: str, liked: bool) -> LikeOut:
    counts = await counters.get_counts(stores, [post_id])
    return LikeOut(post_id=post_id, liked=liked, likes=counts[post_id]["likes"])


@post("/v1/posts/{post_id:str}/like", status_code=200, dependencies=AUTH, responses=errors(401, 404, 429), tags=["social"])
async def like_post(post_id: FromPath[str], stores: StoresDep, user: UserDep) -> LikeOut:
    """Like a post (idempotent: liking twice counts once). The author is
    notified; a like taken back and given again within the hour is stored
    quietly (read, not pushed)."""
    await rate_limit.count_like(stores, user.id)  # likes and unlikes share one limit (429)
    await visible_post(stores, post_id, user.id)
    await likes.like(stores, user.id, post_id)
    return await _like_out(stores, post_id, True)


@delete("/v1/posts/{post_id:str}/like", status_code=200, dependencies=AUTH, responses=errors(401, 404, 429), tags=["social"])
async def unlike_post(post_id: FromPath[str], stores: StoresDep, user: UserDep) -> LikeOut:
    """Take my like back (a no-op when I do not like it)."""
    await rate_limit.count_like(stores, user.id)  # likes and unlikes share one limit (429)
    await visible_post(stores, post_id, user.id)
    await likes.unlike(stores, user.id, post_id)
    return await _like_out(stores, post_id, False)


# --- comments ------------------------------------------------------------------


async def _comment_views(stores: Stores, items: list[Comment], viewer_id: str) -> list[CommentView]:
    hidden = await blocked_among(stores, viewer_id, [c.author_id for c in items if c.author_id != viewer_id])
    found = await authors(stores, [c.author_id for c in items])
    out = []
    for c in items:
        if c.author_id in hidden and not c.deleted:
            continue
        if not c.deleted and c.author_id not in found:
            continue
        out.append(
            CommentView(
                id=c.id,
                post_id=c.post_id,
                author=None if c.deleted else found[c.author_id],
                text="" if c.deleted else c.text,
                parent_id=c.parent_id,
                reply_to_id=c.reply_to_id,
                reply_count=c.reply_count,
                deleted=c.deleted,
                created_at=unix(c.created_at),
            )
        )
    return out


@get("/v1/posts/{post_id:str}/comments", dependencies=AUTH, responses=errors(401, 404), tags=["social"])
async def list_comments(post_id: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20) -> CommentPage:
    """A post's top-level comments, newest first, each with its ``reply_count``."""
    check_cursor(cursor, "comment")
    await visible_post(stores, post_id, user.id)
    items, next_cursor = await comments.top_level(stores, post_id, before=cursor, limit=limit)
    return CommentPage(data=await _comment_views(stores, items, user.id), next_cursor=next_cursor)


@post("/v1/posts/{post_id:str}/comments", dependencies=AUTH, responses=errors(401, 404, 429), tags=["social"])
async def add_comment(
    post_id: FromPath[str], data: JSONBody[NewComment], stores: StoresDep, settings: SettingsDep, user: UserDep
) -> CommentView:
    """Comment on a post, or reply to one of its comments (``reply_to``);
    limited per user (``FABULA_RATE_COMMENTS``, 429 with Retry-After)."""
    found = await visible_post(stores, post_id, user.id)
    await rate_limit.enforce(stores, rate_limit.rules(settings).comments, user.id, message="too many comments; try again later")
    reply_to = None
    if data.reply_to is not None:
        reply_to = await visible_comment(stores, data.reply_to, user.id)
        if reply_to.post_id != post_id:
            raise comment_not_found(data.reply_to)
    created = await comments.add_comment(stores, post=found, author_id=user.id, text=data.text, reply_to=reply_to)
    return (await _comment_views(stores, [created], user.id))[0]


@get("/v1/comments/{comment_id:str}/replies", dependencies=AUTH, responses=errors(401, 404), tags=["social"])
async def list_replies(
    comment_id: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20
) -> CommentPage:
    """The replies to a top-level comment, oldest first."""
    check_cursor(cursor, "comment")
    parent = await visible_comment(stores, comment_id, user.id, live=False)  # a deleted one's replies read on
    if parent.parent_id is not None:
        raise BadRequest("replies are listed under top-level comments; this is a reply", code="not_top_level")
    items, next_cursor = await comments.replies(stores, parent.id, after=cursor, limit=limit)
    return CommentPage(data=await _comment_views(stores, items, user.id), next_cursor=next_cursor)


@delete("/v1/comments/{comment_id:str}", status_code=200, dependencies=AUTH, responses=errors(401, 403, 404), tags=["social"])
async def delete_comment(comment_id: FromPath[str], stores: StoresDep, user: UserDep) -> CommentDeleted:
    """Delete a comment: my own, or any on my post. A top-level comment with
    replies stays as a tombstone (no text, no author) so the replies read on."""
    found = await comments.get_comment(stores, comment_id)
    if found is None or found.deleted:
        raise comment_not_found(comment_id)
    parent_post = await get_post(stores, found.post_id)
    if parent_post is None:
        raise comment_not_found(comment_id)
    if user.id not in (found.author_id, parent_post.author_id):
        await visible_comment(stores, comment_id, user.id)  # 404 when I cannot even see it, else 403 below
    if not await comments.delete_comment(stores, found, user_id=user.id, post_author_id=parent_post.author_id):
        raise comment_not_found(comment_id)
    return CommentDeleted(id=comment_id)


# --- shares and views ------------------------------------------------------------


@post("/v1/posts/{post_id:str}/share", status_code=200, dependencies=AUTH, responses=errors(401, 404), tags=["social"])
async def share_post(post_id: FromPath[str], stores: StoresDep, settings: SettingsDep, user: UserDep) -> ShareOut:
    """A share link for a post; ``shares`` counts the people who shared it."""
    await visible_post(stores, post_id, user.id)
    path = await shares.share(stores, user.id, post_id)
    counts = await counters.get_counts(stores, [post_id])
    return ShareOut(post_id=post_id, url=settings.public_url.rstrip("/") + path, shares=counts[post_id]["shares"])


@post("/v1/posts/{post_id:str}/view", status_code=200, dependencies=AUTH, responses=errors(401, 404), tags=["social"])
async def view_post(post_id: FromPath[str], data: JSONBody[NewView], stores: StoresDep, user: UserDep) -> ViewOut:
    """Record that I watched a post for ``watch_ms`` (and whether to the end).
    A view counts once per viewer and post an hour, and ``watch_ms`` at most
    the clip's length; ``views`` is the count after this one."""
    found = await visible_post(stores, post_id, user.id)
    length = found.duration_ms
    if length is None:  # a post published before its length was kept
        job = await jobs.get_job(stores, found.video_id)
        length = clip_length_ms(job) if job is not None else None
    await views.record_view(stores, user.id, post_id, watch_ms=data.watch_ms, completed=data.completed, length_ms=length)
    counts = await counters.get_counts(stores, [post_id])
    return ViewOut(post_id=post_id, views=counts[post_id]["views"])


# --- remixes -------------------------------------------------------------------


@get("/v1/posts/{post_id:str}/remixes", dependencies=AUTH, responses=errors(401, 404), tags=["social"])
async def list_remixes(post_id: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20) -> PostPage:
    """Posts that remix this one, newest first (those I may see)."""
    check_cursor(cursor, "post")
    await visible_post(stores, post_id, user.id)
    rows = await remixes.children(stores, post_id, before=cursor, limit=limit + 1)
    page = rows[:limit]
    shown = await visible_posts(stores, page, user.id)
    return PostPage(data=await post_views(stores, shown, user.id), next_cursor=page[-1].id if len(rows) > limit else None)


@get("/v1/posts/{post_id:str}/chain", dependencies=AUTH, responses=errors(401, 404), tags=["social"])
async def remix_chain(post_id: FromPath[str], stores: StoresDep, user: UserDep) -> Chain:
    """The posts this one descends from, nearest first, up to the root."""
    found = await visible_post(stores, post_id, user.id)
    line = await remixes.ancestors(stores, found)
    shown = {p.id for p in await visible_posts(stores, line, user.id)}
    # stop at the first ancestor hidden from me: what lies beyond it is not mine to see
    prefix = []
    for ancestor in line:
        if ancestor.id not in shown:
            break
        prefix.append(ancestor)
    last = prefix[-1] if prefix else found
    root_reached = len(prefix) == len(line) and last.remix_of is None
    return Chain(post_id=post_id, data=await post_views(stores, prefix, user.id), complete=root_reached)


# --- the public share link -----------------------------------------------------------


@get("/p/{post_id:str}", responses=errors(404), tags=["social"])
async def shared_post(post_id: FromPath[str], stores: StoresDep, settings: SettingsDep, request: Request) -> PostView:
    """What a share link shows without signing in: a public post (404 for any other).
    A browser or a link unfurler gets the app's page for it instead (``server.routes.app``)."""
    if wants_html(request):
        return await share_page(request, stores, settings, post_id)  # type: ignore[return-value]
    found = await get_post(stores, post_id)
    if found is None or found.visibility != "public":
        raise post_not_found(post_id)
    return (await post_views(stores, [found]))[0]


ROUTES = [
    like_post,
    unlike_post,
    list_comments,
    add_comment,
    list_replies,
    delete_comment,
    share_post,
    view_post,
    list_remixes,
    remix_chain,
    shared_post,
]
