"""WebSocket /v1/ws: authenticate, then serve the handlers of every domain
over one connection (see docs/WEBSOCKET.md)."""

from __future__ import annotations

import logging

from litestar import WebSocket, websocket

from core.errors import FabulaError
from server import token_sockets
from server.auth import bearer_token, current_user
from server.errors import BACKING_DOWN, UNAVAILABLE_MESSAGE
from server.rtc import ws as rtc_ws
from server.state import StoresDep
from server.ws import feed_session, jobs, limits, notifications
from server.ws import protocol as proto
from server.ws.connection import Connection, Handler, serve


async def on_ping(conn: Connection, msg: proto.Message) -> None:
    conn.send(proto.out("pong", msg.data, msg.id))


log = logging.getLogger("fabula.ws")

HANDLERS: dict[str, Handler] = {"ping": on_ping, **jobs.HANDLERS, **notifications.HANDLERS, **feed_session.HANDLERS, **rtc_ws.HANDLERS}


async def _try_again_later(socket: WebSocket, exc: BaseException) -> None:
    """Mongo or Redis did not answer while the connection was set up: say so, close with 1013."""
    log.warning("backing service unavailable; socket closed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
    await socket.send_data(proto.error("unavailable", UNAVAILABLE_MESSAGE).decode(), mode="text")
    await socket.close(code=proto.CLOSE_TRY_AGAIN, reason="try again later")


@websocket("/v1/ws")
async def ws_endpoint(socket: WebSocket, stores: StoresDep) -> None:
    await socket.accept()
    try:
        user = await current_user(socket, stores)
    except FabulaError as exc:
        await socket.send_data(proto.error_of(exc).decode(), mode="text")
        await socket.close(code=proto.CLOSE_UNAUTHORIZED, reason="unauthorized")
        return
    except BACKING_DOWN as exc:
        await _try_again_later(socket, exc)
        return
    limit = stores.settings.ws_max_connections_per_user
    if not limits.admit(user.id, limit):
        message = f"a user holds at most {limit} sockets at once; close one"
        await socket.send_data(proto.error("too_many_connections", message).decode(), mode="text")
        await socket.close(code=proto.CLOSE_TOO_MANY_CONNECTIONS, reason="too many connections")
        return
    try:
        conn = Connection(socket, stores, user, HANDLERS)
        conn.send(proto.out("hello", {"user_id": user.id, "handle": user.handle}))
        try:
            await notifications.attach(conn)  # live before hello leaves (serve starts the sender): none is missed after it
            await token_sockets.watch(conn, bearer_token(socket) or "")  # closed with 4401 when its token is revoked
        except BACKING_DOWN as exc:  # before hello has left: the client sees only this
            await _try_again_later(socket, exc)
            return
        await serve(conn)
    finally:
        limits.release(user.id)


ROUTES = [ws_endpoint]
