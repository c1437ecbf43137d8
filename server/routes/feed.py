"""The HTTP feed: ``GET /v1/feed?kind=following`` with cursor pagination."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get
from litestar.params import Parameter

from accounts.graph import following_ids
from accounts.users import User
from core.stores import Stores
from feed.following import following_feed
from server.auth import AUTH
from server.openapi import errors
from server.post_views import PostView, post_views


class FeedPage(msgspec.Struct):
    kind: str
    data: list[PostView]
    next_cursor: str | None
    object: str = "list"


@get("/v1/feed", dependencies=AUTH, responses=errors(401), tags=["feed"])
async def get_feed(
    stores: Stores,
    user: User,
    kind: Literal["following"] = "following",
    cursor: Annotated[str | None, Parameter(max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=50)] = 20,
) -> FeedPage:
    """Posts of the people I follow, and mine, newest first. ``next_cursor`` fetches the next page."""
    page = await following_feed(stores, user.id, await following_ids(stores, user.id), cursor=cursor, limit=limit)
    return FeedPage(kind=kind, data=await post_views(stores, page.items), next_cursor=page.next_cursor)


ROUTES = [get_feed]
