"""How a post looks on the wire (the post, its author, counters, the viewer's
like, its video's URLs), and who may see it: the one place the server joins
the follow/block graph (accounts) with the visibility rule (policy) for posts."""

from __future__ import annotations

import msgspec

from accounts.graph import blocked_among, is_blocked_between, is_following
from accounts.users import get_users
from core.clock import unix
from core.errors import NotFound
from core.stores import Stores
from feed.social import counters, likes
from feed.social.posts import Post, get_post
from policy.decision import Decision
from policy.visibility import can_view_post


class Author(msgspec.Struct):
    id: str
    handle: str
    display_name: str
    avatar_url: str


class Counts(msgspec.Struct, kw_only=True):
    likes: int = 0
    comments: int = 0
    views: int = 0
    remixes: int = 0
    shares: int = 0


class PostView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "post"
    author: Author
    video_id: str
    caption: str
    visibility: str = "public"
    remix_of: str | None = None
    counts: Counts = msgspec.field(default_factory=Counts)
    liked: bool = False  # by the viewer
    created_at: int
    edited_at: int | None = None
    content_url: str
    thumbnail_url: str


async def authors(stores: Stores, user_ids: list[str]) -> dict[str, Author]:
    found = await get_users(stores, list(dict.fromkeys(user_ids)))
    return {uid: Author(u.id, u.handle, u.display_name, u.avatar_url) for uid, u in found.items()}


def _counts(raw: dict[str, int]) -> Counts:
    return Counts(**{name: raw.get(name, 0) for name in Counts.__struct_fields__})


async def post_views(stores: Stores, posts: list[Post], viewer_id: str | None = None) -> list[PostView]:
    found = await authors(stores, [p.author_id for p in posts])
    ids = [p.id for p in posts]
    counts = await counters.get_counts(stores, ids)
    liked = await likes.liked_by(stores, viewer_id, ids) if viewer_id else set()
    return [
        PostView(
            id=p.id,
            author=found[p.author_id],
            video_id=p.video_id,
            caption=p.caption,
            visibility=p.visibility,
            remix_of=p.remix_of,
            counts=_counts(counts.get(p.id, {})),
            liked=p.id in liked,
            created_at=unix(p.created_at),
            edited_at=unix(p.edited_at),
            content_url=f"/v1/posts/{p.id}/content",
            thumbnail_url=f"/v1/posts/{p.id}/content?variant=thumbnail",
        )
        for p in posts
        if p.author_id in found
    ]


# --- who may see a post ------------------------------------------------------


async def view_decision(stores: Stores, post: Post, viewer_id: str) -> Decision:
    if viewer_id == post.author_id:
        return Decision.allow()
    blocked = await is_blocked_between(stores, post.author_id, viewer_id)
    follows = post.visibility == "followers" and not blocked and await is_following(stores, viewer_id, post.author_id)
    return can_view_post(
        visibility=post.visibility, author_id=post.author_id, viewer_id=viewer_id, viewer_follows_author=follows, blocked=blocked
    )


def post_not_found(post_id: str) -> NotFound:
    return NotFound(f"no post {post_id!r}", code="post_not_found")


async def visible_post(stores: Stores, post_id: str, viewer_id: str) -> Post:
    """The post, if ``viewer_id`` may see it; otherwise the same 404 as for an
    unknown post (a private post or a block reveals nothing)."""
    found = await get_post(stores, post_id)
    if found is None or not (await view_decision(stores, found, viewer_id)).allowed:
        raise post_not_found(post_id)
    return found


async def visible_posts(stores: Stores, posts: list[Post], viewer_id: str) -> list[Post]:
    """The posts of ``posts`` that ``viewer_id`` may see, in order."""
    others = list({p.author_id for p in posts if p.author_id != viewer_id})
    blocked = await blocked_among(stores, viewer_id, others)
    follows: dict[str, bool] = {}
    for author_id in {p.author_id for p in posts if p.visibility == "followers" and p.author_id in others and p.author_id not in blocked}:
        follows[author_id] = await is_following(stores, viewer_id, author_id)
    return [
        p
        for p in posts
        if can_view_post(
            visibility=p.visibility,
            author_id=p.author_id,
            viewer_id=viewer_id,
            viewer_follows_author=follows.get(p.author_id, False),
            blocked=p.author_id in blocked,
        ).allowed
    ]
