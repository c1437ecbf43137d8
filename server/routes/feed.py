"""The HTTP feed: ``GET /v1/feed?kind=following|for_you`` with cursor pagination.

* ``following``: posts of the people I follow, and mine, newest first; the
  cursor is the id of the previous page's last post.
* ``for_you``: the ranked feed (``feed.serving.for_you``). The first page opens a feed
  session, as the WebSocket stream does; the cursor is ``<session id>.<n>``,
  the place in that session's served list. A page is always the session's
  ``served[n:n + limit]``, made on demand, so the pages never repeat or skip
  an item, and asking for the same cursor again returns the same page.

  A page comes from the user's opening (``feed.serving.openings``: the session's
  first picks, ranked ahead by the opening builder) when there is one, in one
  round trip; otherwise it is ranked in the api (``feed.live.pages``, which the
  WebSocket stream shares). A cursor ending in ``o`` says the next page may
  come from the opening too (clients pass it back as it is).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from litestar import get
from litestar.params import FromQuery, Parameter

from accounts import graph_cache
from accounts.users import User
from core.errors import BadRequest
from core.ids import has_kind
from core.stores import Stores
from feed.live import pages
from feed.live.runtime import ready
from feed.serving.following import following_feed
from server.auth import AUTH, UserDep
from server.openapi import errors
from server.post_views import PostView, feed_views, post_views
from server.state import StoresDep

_FOR_YOU_CURSOR = re.compile(r"(fs_[0-9a-hjkmnp-tv-z]{26})\.(\d{1,5})(o?)")


class FeedPage(msgspec.Struct):
    kind: str
    data: list[PostView]
    next_cursor: str | None
    object: str = "list"


@get("/v1/feed", dependencies=AUTH, responses=errors(401, 409), tags=["feed"])
async def get_feed(
    stores: StoresDep,
    user: UserDep,
    kind: FromQuery[Literal["following", "for_you"]] = "following",
    cursor: Annotated[str | None, Parameter(max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=50)] = 20,
) -> FeedPage:
    """``following``: posts of the people I follow, and mine, newest first.
    ``for_you``: the ranked feed, each post once. ``next_cursor`` fetches the next page."""
    if kind == "for_you":
        return await for_you_page(stores, user, cursor, limit)
    if cursor is not None and not _is_post_id(cursor):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")
    following = (await graph_cache.around(stores, user.id)).following  # the shared cache, not a Mongo read per page
    page = await following_feed(stores, user.id, following, cursor=cursor, limit=limit)
    return FeedPage(kind=kind, data=await post_views(stores, page.items, user.id), next_cursor=page.next_cursor)


def _is_post_id(value: str) -> bool:
    # the cursor is the id of the previous page's last post; anything else would
    # silently page from an arbitrary point
    return has_kind(value, "post") and value[5:].isascii() and value[5:].isalnum()


async def for_you_page(stores: Stores, user: User, cursor: str | None, limit: int) -> FeedPage:
    rt = await ready(stores)
    place = None
    if cursor is not None:
        match = _FOR_YOU_CURSOR.fullmatch(cursor)
        if match is None:
            raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")
        place = (match.group(1), int(match.group(2)), bool(match.group(3)))
    page = await pages.for_you_page(rt, user.id, limit, place)
    data = await feed_views(stores, rt, user.id, page.posts, liked=page.liked)
    next_cursor = None if page.next_at is None else f"{page.session_id}.{page.next_at}{'o' if page.marked else ''}"
    return FeedPage(kind="for_you", data=data, next_cursor=next_cursor)


ROUTES = [get_feed]
