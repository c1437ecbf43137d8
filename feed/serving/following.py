"""The following feed: newest posts of the people I follow, and mine."""

from __future__ import annotations

import msgspec

from core.stores import Stores
from feed.social.posts import Post, posts_by_authors


class Page(msgspec.Struct):
    items: list[Post]
    next_cursor: str | None


async def following_feed(stores: Stores, viewer_id: str, followed_ids: list[str], *, cursor: str | None, limit: int) -> Page:
    authors = list(dict.fromkeys([viewer_id, *followed_ids]))
    # one extra row tells whether another page exists
    rows = await posts_by_authors(stores, authors, before=cursor, limit=limit + 1, viewer_id=viewer_id)
    items = rows[:limit]
    return Page(items=items, next_cursor=items[-1].id if len(rows) > limit else None)
