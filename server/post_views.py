"""How a post looks on the wire: the post, its author and its video's URLs."""

from __future__ import annotations

import msgspec

from accounts.users import get_user
from core.clock import unix
from core.stores import Stores
from feed.posts import Post


class Author(msgspec.Struct):
    id: str
    handle: str
    display_name: str
    avatar_url: str


class PostView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "post"
    author: Author
    video_id: str
    caption: str
    created_at: int
    content_url: str
    thumbnail_url: str


async def post_views(stores: Stores, posts: list[Post]) -> list[PostView]:
    authors: dict[str, Author] = {}
    for author_id in dict.fromkeys(p.author_id for p in posts):
        user = await get_user(stores, author_id)
        if user is not None:
            authors[author_id] = Author(user.id, user.handle, user.display_name, user.avatar_url)
    return [
        PostView(
            id=p.id,
            author=authors[p.author_id],
            video_id=p.video_id,
            caption=p.caption,
            created_at=unix(p.created_at),
            content_url=f"/v1/posts/{p.id}/content",
            thumbnail_url=f"/v1/posts/{p.id}/content?variant=thumbnail",
        )
        for p in posts
        if p.author_id in authors
    ]
