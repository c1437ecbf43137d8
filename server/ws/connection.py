"""One WebSocket connection: a bounded outbox drained by a single sender task
(so a slow reader cannot grow server memory without bound), named background
tasks (subscriptions, feed sessions), dispatch of incoming messages to the
handler table, and work the client asked for that finishes after it left
(``finish_on_close``: a feed event's effects)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from accounts.users import User
from core.errors import FabulaError
from core.json_errors import decode_error_text
from core.stores import Stores
from server.errors import BACKING_DOWN, UNAVAILABLE_MESSAGE
from server.ws import protocol as proto
from server.ws.rate import MessageLimit

log = logging.getLogger("fabula.ws")

Handler = Callable[["Connection", proto.Message], Awaitable[None]]
FINISH_S = 5.0  # how long a closed connection's queued work may take to finish
INTERNAL_MESSAGE = "the server failed on this message; it was logged, and the connection stays open"


class Connection:
    def __init__(self, socket: WebSocket, stores: Stores, user: User, handlers: dict[str, Handler]):
        self.socket = socket
        self.stores = stores
        self.user = user
        self.handlers = handlers
        self.outbox: asyncio.Queue[tuple[str, str | bytes] | None] = asyncio.Queue(proto.OUTBOX_LIMIT)
        self.tasks: dict[str, asyncio.Task] = {}
        self.too_slow = False
        self.ending: tuple[int, str] | None = None  # (close code, reason) asked for by ``end``
        self._finishers: list[Callable[[], Awaitable[None]]] = []
        self.limit = MessageLimit(stores, user.id)  # incoming messages (server.ws.rate)

    # -- outgoing -------------------------------------------------------

    def _put(self, item: tuple[str, str | bytes]) -> None:
        try:
            self.outbox.put_nowait(item)
        except asyncio.QueueFull:
            self.too_slow = True  # the sender closes the connection once it reaches the marker
            with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)

    def send(self, message: bytes) -> None:
        """Queue an encoded JSON message (sent as a text frame)."""
        self._put(("text", message.decode()))

    def send_binary(self, payload: bytes, *, droppable: bool = False) -> bool:
        """Queue a binary frame. A droppable one (a preview superseded by the
        next) is skipped instead of queued when the outbox is half full."""
        if droppable and self.outbox.qsize() >= proto.OUTBOX_LIMIT // 2:
            return False
        self._put(("binary", payload))
        return True

    def end(self, code: int, reason: str) -> None:
        """Close the connection with ``code`` once what is queued before it is
        sent (e.g. 4401 when its token is revoked); later messages are dropped."""
        if self.ending is None:
            self.ending = (code, reason)
            try:
                self.outbox.put_nowait(None)
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
                    self.outbox.get_nowait()
                    self.outbox.put_nowait(None)

    async def sender(self) -> None:
        while True:
            item = await self.outbox.get()
            if item is None:
                break
            mode, payload = item
            await self.socket.send_data(payload, mode=mode)  # type: ignore[arg-type]
        if self.ending is not None:
            await self.socket.close(code=self.ending[0], reason=self.ending[1])
        elif self.too_slow:
            await self.socket.close(code=proto.CLOSE_TOO_SLOW, reason="client too slow")

    # -- background tasks ----------------------------------------------

    def start_task(self, key: str, coro: Coroutine[Any, Any, None]) -> bool:
        """Run ``coro`` under ``key`` unless a task of that key runs already."""
        if key in self.tasks:
            coro.close()
            return False
        task = asyncio.create_task(coro)
        self.tasks[key] = task
        task.add_done_callback(lambda t, key=key: self._task_ended(key, t))
        return True

    def cancel_task(self, key: str) -> bool:
        task = self.tasks.pop(key, None)
        if task is None:
            return False
        task.cancel()
        return True

    def _task_ended(self, key: str, task: asyncio.Task) -> None:
        if self.tasks.get(key) is task:
            del self.tasks[key]
        if task.cancelled() or task.exception() is None:
            return
        log.error("connection task failed", extra={"task": key}, exc_info=task.exception())
        self.send(proto.error("internal_error", f"{key} stopped; ask again"))

    def finish_on_close(self, finisher: Callable[[], Awaitable[None]]) -> None:
        """Await ``finisher`` when the client has gone, before the tasks are
        cancelled (at most ``FINISH_S`` for all of them): for work a message
        queued that must not be lost with the connection."""
        self._finishers.append(finisher)

    async def finish(self) -> None:
        if self._finishers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(f() for f in self._finishers)), FINISH_S)

    def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()

    # -- incoming -------------------------------------------------------

    async def _refuse_over_limit(self, raw: str | bytes) -> bool:
        """True when the frame is over the message limits (answered here; it is not handled)."""
        try:
            wait = await self.limit.admit()
        except BACKING_DOWN:  # Redis restarting: the limits cannot be read; the frame goes on
            return False
        if wait is None:
            return False
        reply_to = None
        if isinstance(raw, str) and len(raw) <= proto.MAX_MESSAGE_BYTES:
            try:
                reply_to = proto.decode(raw).id
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                pass
        if self.ending is None:
            self.send(proto.out("error", self.limit.refusal_data(wait), reply_to))
            if self.limit.abusive:
                self.end(proto.CLOSE_RATE_LIMITED, "rate limit")
        return True

    async def handle(self, raw: str | bytes) -> None:
        if await self._refuse_over_limit(raw):
            return
        if isinstance(raw, bytes):
            self.send(proto.error("invalid_message", "binary frames are not accepted; send JSON messages as text frames"))
            return
        if len(raw) > proto.MAX_MESSAGE_BYTES or len(raw.encode()) > proto.MAX_MESSAGE_BYTES:  # the limit is in bytes
            self.send(proto.error("message_too_large", f"messages are limited to {proto.MAX_MESSAGE_BYTES} bytes"))
            return
        try:
            msg = proto.decode(raw)
        except msgspec.ValidationError as exc:  # the envelope, or a value in data no field could hold
            self.send(proto.error("invalid_message", str(exc), proto.request_id(raw)))
            return
        except msgspec.DecodeError as exc:
            self.send(proto.error("malformed_json", decode_error_text(exc, raw)))
            return
        except RecursionError:  # msgspec's answer to JSON nested deeper than the interpreter's stack
            self.send(proto.error("malformed_json", "JSON is nested too deeply"))
            return
        handler = self.handlers.get(msg.type)
        if handler is None:
            self.send(proto.error("unknown_type", f"unknown message type {msg.type!r}", msg.id))
            return
        try:
            await handler(self, msg)
        except msgspec.ValidationError as exc:
            self.send(proto.error("invalid_message", str(exc), msg.id))
        except FabulaError as exc:
            self.send(proto.error_of(exc, msg.id))
        except BACKING_DOWN as exc:  # Mongo or Redis restarting: the message may be sent again shortly
            log.warning("backing service unavailable", extra={"type": msg.type, "error": type(exc).__name__})
            self.send(proto.error("unavailable", UNAVAILABLE_MESSAGE, msg.id))
        except Exception:  # a fault of the server's own: this message fails, the connection stays
            log.exception("message handler failed", extra={"type": msg.type})
            self.send(proto.error("internal_error", INTERNAL_MESSAGE, msg.id))


async def receive_frame(socket: WebSocket) -> str | bytes:
    """The next frame as sent: text as str, binary as bytes (``receive_text``
    would turn a binary frame into an empty string)."""
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="disconnect event", code=event.get("code", 1000))
    text = event.get("text")
    return text if text is not None else event.get("bytes") or b""


async def serve(conn: Connection) -> None:
    """Read and dispatch messages until the client leaves or is cut off.

    Each frame is read in this task (no task per frame: every hop through the
    event loop adds to the next item's latency under load). The sender
    ending first (a client too slow, a failed send) interrupts the read it
    waits in, never a handler."""
    sender = asyncio.create_task(conn.sender())
    me = asyncio.current_task()
    assert me is not None  # (serve runs in a task)
    reading = False
    interrupted = False

    def sender_ended(_: asyncio.Task) -> None:
        nonlocal interrupted
        if reading:
            interrupted = True
            me.cancel()

    sender.add_done_callback(sender_ended)
    try:
        while not sender.done():
            reading = True
            try:
                raw = await receive_frame(conn.socket)
            except asyncio.CancelledError:
                if interrupted and me.uncancel() == 0:
                    break  # the sender ended: so does the connection
                raise
            finally:
                reading = False
            await conn.handle(raw)
    except WebSocketDisconnect:
        pass
    finally:
        sender.remove_done_callback(sender_ended)
        await conn.finish()
        conn.close()
        if not sender.done():
            if conn.outbox.full():
                sender.cancel()
            else:
                conn.outbox.put_nowait(None)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(sender, 1)
        elif not sender.cancelled() and sender.exception() is not None:
            # the client went away while a frame was going out: the usual end of a
            # connection, seen here rather than left for asyncio to report unread
            log.debug("sender stopped", extra={"reason": type(sender.exception()).__name__})
