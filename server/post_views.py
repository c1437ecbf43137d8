"""How a post looks on the wire: the post, its author, counters, the viewer's
like, its video's URLs. (Who may see it: ``feed.social.visibility``.)"""

from __future__ import annotations

import msgspec

from core.clock import unix
from core.stores import Stores
from feed.social import counters, likes
from feed.social.authors import Author, authors
from feed.social.posts import Post


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
