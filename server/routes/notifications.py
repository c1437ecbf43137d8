"""My notifications: the list (newest first) with the unread count, and
marking them read. New ones are also pushed over the WebSocket
(server.ws.notifications)."""

from __future__ import annotations

import msgspec
from litestar import get, post
from litestar.params import JSONBody

from core.errors import BadRequest
from core.ids import has_kind
from feed.social import notifications
from server.auth import AUTH, UserDep
from server.notification_views import (
    MarkRead,
    NotificationView,
    ReadOut,
    notification_views,
)
from server.openapi import errors
from server.routes.posts import Cursor, Limit
from server.state import StoresDep


class NotificationPage(msgspec.Struct, kw_only=True):
    data: list[NotificationView]
    next_cursor: str | None
    unread_count: int
    object: str = "list"


def _check_cursor(cursor: str | None) -> None:
    if cursor is None:
        return
    rest = cursor.removeprefix("notif_")
    if not (has_kind(cursor, "notif") and rest.isascii() and rest.isalnum()):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")


@get("/v1/notifications", dependencies=AUTH, responses=errors(401), tags=["notifications"])
async def list_notifications(stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = 20) -> NotificationPage:
    """My notifications, newest first, and how many are unread."""
    _check_cursor(cursor)
    rows = await notifications.list_notifications(stores, user.id, before=cursor, limit=limit + 1)
    page = rows[:limit]
    return NotificationPage(
        data=await notification_views(stores, page),
        next_cursor=page[-1].id if len(rows) > limit else None,
        unread_count=await notifications.unread_count(stores, user.id),
    )


@post("/v1/notifications/read", status_code=200, dependencies=AUTH, responses=errors(401), tags=["notifications"])
async def mark_read(data: JSONBody[MarkRead], stores: StoresDep, user: UserDep) -> ReadOut:
    """Mark some (``ids``) or all (``all: true``) of my notifications read."""
    marked = await notifications.mark_read(stores, user.id, None if data.all else data.ids)
    return ReadOut(marked=marked, unread_count=await notifications.unread_count(stores, user.id))


ROUTES = [list_notifications, mark_read]
