"""Live notifications over the WebSocket.

Each api process listens on the notifications channel (``Hub``, through a
``core.subscription.Subscription``) and keeps a map of signed-in user → that process's connections. A
new notification, published by whichever process created it, reaches every
api process; each pushes ``{"type": "notification", "data": {…}}`` to the
recipient's connections it holds, so a user connected to several replicas
gets it on each. One subscription per process, however many connections.

A connection is attached when it opens, before its ``hello``: once a client
has read ``hello`` the subscription is live and nothing published after
that is missed. When the subscription itself is lost (Redis restarting),
what is published until it is back reaches nobody; so once it is back the
hub reads the unread notifications its connected users were sent since it
was lost (a margin earlier) and pushes those it has not pushed already (it
remembers the last ``RECENT_IDS`` it pushed). Notifications made while a
client was away are read with ``GET /v1/notifications``.

Client messages: ``notifications_read`` ``{ids: [...]}`` or ``{all: true}``
marks notifications read and answers ``notifications_read`` ``{marked,
unread_count}``."""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import datetime, timezone

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
CATCH_UP_MARGIN_S = 5.0  # read back this much before the subscription was lost (clocks, a message in flight)
CATCH_UP_LIMIT = 1000  # notifications read back at most, after one loss
RECENT_IDS = 4096  # ids of the notifications pushed last: a catch-up pushes none of them again


class Hub:
    def __init__(self, stores: Stores):
        self.stores = stores
        self.connections: dict[str, set[Connection]] = {}
        self.subscription = Subscription(
            stores, {stores.key(notifications.NOTIFY_CHANNEL): self._deliver}, name="notifications", on_connect=self._on_connect
        )
        self.loop = asyncio.get_running_loop()
        self.recent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.catching_up: set[asyncio.Task] = set()

    def _on_connect(self) -> None:
        """(Re)subscribed: after a loss, push what was published while it lasted."""
        lost_at = self.subscription.lost_at
        if lost_at is None or not self.connections:
            return
        since = datetime.fromtimestamp(lost_at - CATCH_UP_MARGIN_S, timezone.utc)
        task = asyncio.create_task(self._catch_up(since), name="notifications-catch-up")
        self.catching_up.add(task)
        task.add_done_callback(self.catching_up.discard)

    async def _catch_up(self, since: datetime) -> None:
        try:
            missed = await notifications.unread_since(self.stores, list(self.connections), since, limit=CATCH_UP_LIMIT)
        except Exception as exc:  # down again: the next reconnect reads back from its own loss
            log.warning("notifications: catching up failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            return
        await self._push(missed)
        if missed:
            log.info("notifications: caught up after the subscription was lost", extra={"read_back": len(missed)})

    def _pushed(self, notification_id: str) -> bool:
        """Whether it was pushed already; notes it as pushed."""
        if notification_id in self.recent:
            return True
        self.recent[notification_id] = None
        while len(self.recent) > RECENT_IDS:
            self.recent.popitem(last=False)
        return False

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
        await self._push([published.notification])

    async def _push(self, notes: list[notifications.Notification]) -> None:
        """Each of ``notes`` to its recipient's connections on this process, once,
        their views made together (one read of the actors for a catch-up's many)."""
        fresh = [n for n in notes if n.recipient_id in self.connections and not self._pushed(n.id)]
        if not fresh:
            return
        # the actors' profiles from this process's author cache (a like's actor is often shown again soon)
        views = await notification_views(self.stores, fresh, read_authors=runtime(self.stores).authors.get)
        recipients = {n.id: n.recipient_id for n in fresh}
        for view in views:  # a notification whose actor is gone has no view
            payload = proto.out("notification", msgspec.to_builtins(view))
            for conn in list(self.connections.get(recipients[view.id], ())):
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
