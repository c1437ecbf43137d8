"""My notifications: the list (newest first) with the unread count, and
marking them read. New ones are also pushed over the WebSocket
(server.ws.notifications)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, post
from msgspec import Meta

from accounts.users import User
from core.clock import unix
from core.errors import BadRequest
from core.ids import has_kind
from core.stores import Stores
from feed import notifications
from feed.notifications import Notification
from server.auth import AUTH
from server.openapi import errors
from server.post_views import Author, authors
from server.routes.posts import Cursor, Limit

NotificationId = Annotated[str, Meta(min_length=1, max_length=64)]


class NotificationView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "notification"
    kind: str  # like | comment | reply | follow | remix
    actor: Author
    post_id: str | None
    comment_id: str | None
    created_at: int
    read: bool


class NotificationPage(msgspec.Struct, kw_only=True):
    data: list[NotificationView]
    next_cursor: str | None
    unread_count: int
    object: str = "list"


class MarkRead(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Either ``ids`` (mine; others are ignored) or ``all: true``."""

    ids: Annotated[list[NotificationId], Meta(max_length=100)] | None = None
    all: bool = False

    def __post_init__(self) -> None:
        if (self.ids is None) == (not self.all):
            raise ValueError("give either ids or all: true")


class ReadOut(msgspec.Struct, kw_only=True):
    marked: int
    unread_count: int


async def notification_views(stores: Stores, items: list[Notification]) -> list[NotificationView]:
    """The wire form; notifications whose actor no longer exists are left out."""
    found = await authors(stores, [n.actor_id for n in items])
    return [
        NotificationView(
            id=n.id,
            kind=n.kind,
            actor=found[n.actor_id],
            post_id=n.post_id,
            comment_id=n.comment_id,
            created_at=unix(n.created_at),
            read=n.read,
        )
        for n in items
        if n.actor_id in found
    ]


def _check_cursor(cursor: str | None) -> None:
    if cursor is None:
        return
    rest = cursor.removeprefix("notif_")
    if not (has_kind(cursor, "notif") and rest.isascii() and rest.isalnum()):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")


@get("/v1/notifications", dependencies=AUTH, responses=errors(401), tags=["notifications"])
async def list_notifications(stores: Stores, user: User, cursor: Cursor = None, limit: Limit = 20) -> NotificationPage:
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
async def mark_read(data: MarkRead, stores: Stores, user: User) -> ReadOut:
    """Mark some (``ids``) or all (``all: true``) of my notifications read."""
    marked = await notifications.mark_read(stores, user.id, None if data.all else data.ids)
    return ReadOut(marked=marked, unread_count=await notifications.unread_count(stores, user.id))


ROUTES = [list_notifications, mark_read]
