"""Live notifications over the WebSocket.

Each api process listens on the notifications channel (``Hub``, through a
``core.subscription.Subscription``) and keeps a map of signed-in user → that process's connections. A
new notification, published by whichever process created it, reaches every
api process; each pushes ``{"type": "notification", "data": {…}}`` to the
recipient's connections it holds, so a user connected to several replicas
gets it on each. One subscription per process, however many connections.

A connection is attached when it opens, before its ``hello``: once a client
has read ``hello`` the subscription is live and nothing published after
that is missed. Notifications made while a client was away are read with
``GET /v1/notifications``.

Client messages: ``notifications_read`` ``{ids: [...]}`` or ``{all: true}``
marks notifications read and answers ``notifications_read`` ``{marked,
unread_count}``."""

from __future__ import annotations

import asyncio
import logging

import msgspec

from core.stores import Stores
from core.subscription import Subscription
from feed.live.runtime import runtime
from feed.social import notifications
from server.notification_views import MarkRead, notification_views
from server.ws import protocol as proto
from server.ws.connection import Connection

log = logging.getLogger("fabula.ws")

READY_WAIT_S = 5.0  # how long a new connection waits for the subscriber to be live


class Hub:
    def __init__(self, stores: Stores):
        self.stores = stores
        self.connections: dict[str, set[Connection]] = {}
        self.subscription = Subscription(stores, {stores.key(notifications.NOTIFY_CHANNEL): self._deliver}, name="notifications")
        self.loop = asyncio.get_running_loop()

    def _ensure_running(self) -> None:
        self.subscription.start()

    def add(self, conn: Connection) -> None:
        self.connections.setdefault(conn.user.id, set()).add(conn)
        self._ensure_running()

    async def wait_ready(self) -> None:
        await self.subscription.wait_ready(READY_WAIT_S)

    def detach(self, conn: Connection) -> None:
        held = self.connections.get(conn.user.id)
        if held is not None:
            held.discard(conn)
            if not held:
                del self.connections[conn.user.id]

    async def _deliver(self, raw: bytes) -> None:
        try:
            published = notifications.decode_published(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("malformed notification message dropped")
            return
        targets = list(self.connections.get(published.recipient_id, ()))
        if not targets:
            return
        # the actor's profile from this process's author cache (a like's actor is often shown again soon)
        views = await notification_views(self.stores, [published.notification], read_authors=runtime(self.stores).authors.get)
        if not views:
            return
        payload = proto.out("notification", msgspec.to_builtins(views[0]))
        for conn in targets:
            conn.send(payload)


_hub: Hub | None = None


def hub(stores: Stores) -> Hub:
    """This process's hub (one per event loop)."""
    global _hub
    if _hub is None or _hub.loop is not asyncio.get_running_loop() or _hub.stores is not stores:
        _hub = Hub(stores)
    return _hub


async def attach(conn: Connection) -> None:
    """Push the user's new notifications to this connection until it closes."""
    h = hub(conn.stores)
    h.add(conn)

    async def hold() -> None:
        try:
            await asyncio.Future()  # until the connection closes and cancels it
        finally:
            h.detach(conn)

    conn.start_task("notifications", hold())
    try:
        await h.wait_ready()
    except BaseException:
        conn.cancel_task("notifications")
        h.detach(conn)
        raise


async def on_read(conn: Connection, msg: proto.Message) -> None:
    req = msgspec.convert(msg.data, MarkRead)
    marked = await notifications.mark_read(conn.stores, conn.user.id, None if req.all else req.ids)
    unread = await notifications.unread_count(conn.stores, conn.user.id)
    conn.send(proto.out("notifications_read", {"marked": marked, "unread_count": unread}, msg.id))


HANDLERS = {"notifications_read": on_read}
