"""Notifications on the wire: their view (with the actor's public profile) and
the mark-read body, shared by the HTTP routes (server.routes.notifications)
and the live push over the WebSocket (server.ws.notifications)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import msgspec
from msgspec import Meta

from core.clock import unix
from core.stores import Stores
from feed.social.authors import Author, authors
from feed.social.notifications import MODERATORS, Notification

NotificationId = Annotated[str, Meta(min_length=1, max_length=64)]


class NotificationView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "notification"
    kind: str  # like | comment | reply | follow | follow_request | follow_accepted | remix | cameo_request | cameo_approved | cameo_declined | cameo_revoked | cameo_used | cameo_removed | report_actioned | content_removed
    actor: Author | None  # None: the moderators (report_actioned, content_removed), who are not named
    post_id: str | None
    comment_id: str | None
    created_at: int
    read: bool
    cameo_id: str | None = None
    video_id: str | None = None


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


async def notification_views(
    stores: Stores, items: list[Notification], *, read_authors: Callable[[list[str]], Awaitable[dict[str, Author]]] | None = None
) -> list[NotificationView]:
    """The wire form; notifications whose actor no longer exists are left out,
    and the moderators' have no actor. ``read_authors``: where the actors'
    profiles come from (default: Mongo)."""
    ids = [n.actor_id for n in items if n.actor_id != MODERATORS]
    found = await (read_authors(ids) if read_authors is not None else authors(stores, ids))
    return [
        NotificationView(
            id=n.id,
            kind=n.kind,
            actor=found.get(n.actor_id),
            post_id=n.post_id,
            comment_id=n.comment_id,
            created_at=unix(n.created_at),
            read=n.read,
            cameo_id=n.cameo_id,
            video_id=n.video_id,
        )
        for n in items
        if n.actor_id in found or n.actor_id == MODERATORS
    ]
