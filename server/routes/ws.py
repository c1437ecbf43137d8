"""WebSocket /v1/ws: an authenticated connection carrying JSON ``{type, data}``
messages. Now: subscribe to a video job and receive its progress until it
finishes. One sender task per connection drains a bounded outbox, so a slow
reader cannot grow server memory without bound."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from accounts.users import User
from core.errors import FabulaError
from core.stores import Stores
from gen import events, jobs
from server import ws_protocol as proto
from server.auth import current_user
from server.videos_schema import video_object

log = logging.getLogger("fabula.ws")


class Connection:
    def __init__(self, socket: WebSocket, stores: Stores, user: User):
        self.socket = socket
        self.stores = stores
        self.user = user
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue(proto.OUTBOX_LIMIT)
        self.subscriptions: dict[str, asyncio.Task] = {}
        self.too_slow = False

    def send(self, message: bytes) -> None:
        """Queue a message; a client that lets the outbox fill up is disconnected."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.too_slow = True
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)

    async def sender(self) -> None:
        while True:
            message = await self.outbox.get()
            if message is None:
                break
            await self.socket.send_data(message.decode(), mode="text")
        if self.too_slow:
            await self.socket.close(code=proto.CLOSE_TOO_SLOW, reason="client too slow")

    async def handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            self.send(proto.error("invalid_message", "binary frames are not accepted; send JSON messages as text frames"))
            return
        if len(raw) > proto.MAX_MESSAGE_BYTES or len(raw.encode()) > proto.MAX_MESSAGE_BYTES:  # the limit is in bytes
            self.send(proto.error("message_too_large", f"messages are limited to {proto.MAX_MESSAGE_BYTES} bytes"))
            return
        try:
            msg = proto.decode(raw)
        except msgspec.ValidationError as exc:
            self.send(proto.error("invalid_message", str(exc)))
            return
        except msgspec.DecodeError as exc:
            self.send(proto.error("malformed_json", str(exc)))
            return
        except RecursionError:  # msgspec's answer to JSON nested deeper than the interpreter's stack
            self.send(proto.error("malformed_json", "JSON is nested too deeply"))
            return
        handler = getattr(self, "on_" + msg.type, None) if msg.type.isidentifier() else None
        if handler is None:
            self.send(proto.error("unknown_type", f"unknown message type {msg.type!r}", msg.id))
            return
        try:
            await handler(msg)
        except msgspec.ValidationError as exc:
            self.send(proto.error("invalid_message", str(exc), msg.id))
        except FabulaError as exc:
            self.send(proto.error(exc.code, exc.message, msg.id))

    async def on_ping(self, msg: proto.Message) -> None:
        self.send(proto.out("pong", msg.data, msg.id))

    async def on_subscribe(self, msg: proto.Message) -> None:
        sub = msgspec.convert(msg.data, proto.Subscribe)
        job = await jobs.get_job(self.stores, sub.video_id)
        if job is None or job.owner_id != self.user.id:
            self.send(proto.error("video_not_found", f"no video {sub.video_id!r}", msg.id))
            return
        self.send(proto.out("subscribed", {"video_id": job.id}, msg.id))
        if job.id not in self.subscriptions:
            task = asyncio.create_task(self.follow_job(job))
            task.add_done_callback(self._subscription_ended)
            self.subscriptions[job.id] = task

    def _subscription_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("subscription failed", exc_info=task.exception())
        self.send(proto.error("internal_error", "the subscription stopped; subscribe again"))

    async def on_unsubscribe(self, msg: proto.Message) -> None:
        sub = msgspec.convert(msg.data, proto.Subscribe)
        task = self.subscriptions.pop(sub.video_id, None)
        if task is not None:
            task.cancel()
        self.send(proto.out("unsubscribed", {"video_id": sub.video_id}, msg.id))

    async def follow_job(self, job: jobs.Job) -> None:
        """The job's current state, then every event until it completes or fails."""
        self.send(proto.out("video", msgspec.to_builtins(video_object(job))))
        try:
            if job.done:
                return
            last_id = "0-0"
            while True:
                batch = await events.read(self.stores, job.id, last_id, block_ms=5000)
                if not batch:
                    current = await jobs.get_job(self.stores, job.id)
                    if current is None or current.done:  # events expired or job deleted
                        if current is not None:
                            self.send(proto.out("video", msgspec.to_builtins(video_object(current))))
                        return
                    continue
                for last_id, event in batch:
                    self.send(proto.out(event.type, msgspec.to_builtins(event)))
                    if event.type == "status" and event.status in jobs.TERMINAL:
                        final = await jobs.get_job(self.stores, job.id)
                        if final is not None:
                            self.send(proto.out("video", msgspec.to_builtins(video_object(final))))
                        return
        finally:
            self.subscriptions.pop(job.id, None)

    def close(self) -> None:
        for task in self.subscriptions.values():
            task.cancel()
        self.subscriptions.clear()


async def receive_frame(socket: WebSocket) -> str | bytes:
    """The next frame as sent: text as str, binary as bytes (``receive_text``
    would turn a binary frame into an empty string)."""
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="disconnect event", code=event.get("code", 1000))
    text = event.get("text")
    return text if text is not None else event.get("bytes") or b""


@websocket("/v1/ws")
async def ws_endpoint(socket: WebSocket, stores: Stores) -> None:
    await socket.accept()
    try:
        user = await current_user(socket, stores)
    except FabulaError as exc:
        await socket.send_data(proto.error(exc.code, exc.message).decode(), mode="text")
        await socket.close(code=proto.CLOSE_UNAUTHORIZED, reason="unauthorized")
        return
    conn = Connection(socket, stores, user)
    sender = asyncio.create_task(conn.sender())
    conn.send(proto.out("hello", {"user_id": user.id, "handle": user.handle}))
    try:
        while not sender.done():
            receive = asyncio.create_task(receive_frame(socket))
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            await conn.handle(receive.result())
    except WebSocketDisconnect:
        pass
    finally:
        conn.close()
        if not sender.done():
            conn.outbox.put_nowait(None) if not conn.outbox.full() else sender.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(sender, 1)


ROUTES = [ws_endpoint]
