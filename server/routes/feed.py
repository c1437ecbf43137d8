"""The HTTP feed: ``GET /v1/feed?kind=following`` with cursor pagination."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get
from litestar.params import Parameter

from accounts.graph import following_ids
from accounts.users import User
from core.errors import BadRequest
from core.ids import has_kind
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
    if cursor is not None and not _is_post_id(cursor):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")
    page = await following_feed(stores, user.id, await following_ids(stores, user.id), cursor=cursor, limit=limit)
    return FeedPage(kind=kind, data=await post_views(stores, page.items), next_cursor=page.next_cursor)


def _is_post_id(value: str) -> bool:
    # the cursor is the id of the previous page's last post; anything else would
    # silently page from an arbitrary point
    return has_kind(value, "post") and value[5:].isascii() and value[5:].isalnum()


ROUTES = [get_feed]
