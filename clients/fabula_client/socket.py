"""The WebSocket (``/v1/ws``; docs/WEBSOCKET.md and docs/FEED-PROTOCOL.md).

``async with Socket(url, token) as ws`` connects and reads ``hello``. A
reader task then sorts what arrives: the reply to a request (same ``id``)
resolves that request (an ``error`` reply raises ``FabulaAPIError``);
everything else (job messages, preview frames as ``PreviewFrame``, feed
items and counts, notifications) waits in order for ``messages()`` or
``next()``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets

from .errors import FabulaAPIError
from .previews import PreviewFrame, decode_preview

CLOSED = object()


def ws_url(base_url: str) -> str:
    return base_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/ws"


def _error(data: dict) -> FabulaAPIError:
    """A socket ``error``'s data as the error; fields beside ``code`` and
    ``message`` (``rate_limited``'s ``retry_after_s`` and ``limit``) are its ``details``."""
    extra = {k: v for k, v in data.items() if k not in ("code", "message", "details")}
    return FabulaAPIError(400, data.get("code", ""), data.get("message", ""), data.get("details") or extra or None)


class Socket:
    def __init__(
        self, url: str, token: str | None, *, open_timeout: float = 10.0, request_timeout: float = 30.0, rate_limit_retries: int = 3
    ):
        self.url = url
        self.token = token
        self.open_timeout = open_timeout
        self.request_timeout = request_timeout
        self.rate_limit_retries = rate_limit_retries
        self.hello: dict = {}
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future] = {}
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> "Socket":
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._ws = await websockets.connect(self.url, additional_headers=headers, open_timeout=self.open_timeout, max_size=2**22)
        first = json.loads(await asyncio.wait_for(self._ws.recv(), self.open_timeout))
        if first["type"] != "hello":
            await self._ws.close()
            raise _error(first.get("data", {})) if first["type"] == "error" else FabulaAPIError(400, "unexpected", str(first))
        self.hello = first["data"]
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code if self._ws is not None else None

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                if isinstance(raw, bytes):
                    try:
                        self._inbox.put_nowait(decode_preview(raw))
                    except ValueError:
                        continue
                    continue
                msg = json.loads(raw)
                waiter = self._waiting.pop(msg.get("id"), None) if msg.get("id") is not None else None
                if waiter is None:
                    self._inbox.put_nowait(msg)
                elif not waiter.done():
                    if msg["type"] == "error":
                        waiter.set_exception(_error(msg["data"]))
                    else:
                        waiter.set_result(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the socket closed"))
            self._waiting.clear()
            self._inbox.put_nowait(CLOSED)

    # -- sending --------------------------------------------------------

    async def send(self, type_: str, data: dict | None = None, id: str | None = None) -> None:
        """Send a message without waiting for an answer."""
        body: dict[str, Any] = {"type": type_, "data": data or {}}
        if id is not None:
            body["id"] = id
        await self._ws.send(json.dumps(body))

    async def request(self, type_: str, data: dict | None = None) -> dict:
        """Send a message with an ``id`` and return the server's reply to it; an
        ``error`` reply raises ``FabulaAPIError``. A message refused by the
        message limits (``rate_limited``: it was not handled) is sent again after
        the ``retry_after_s`` the server named, up to ``rate_limit_retries`` times."""
        for attempt in range(self.rate_limit_retries + 1):
            try:
                return await self._request_once(type_, data)
            except FabulaAPIError as exc:
                if exc.code != "rate_limited" or attempt == self.rate_limit_retries:
                    raise
                await asyncio.sleep(float((exc.details or {}).get("retry_after_s") or 0.1))
        raise AssertionError("unreachable")

    async def _request_once(self, type_: str, data: dict | None) -> dict:
        msg_id = f"c{next(self._ids)}"
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = waiter
        await self.send(type_, data, msg_id)
        try:
            return await asyncio.wait_for(waiter, self.request_timeout)
        finally:
            self._waiting.pop(msg_id, None)

    # -- receiving ------------------------------------------------------

    async def next(self, *types: str, timeout: float | None = None) -> Any:
        """The next message (of one of ``types``, skipping others; a ``PreviewFrame`` matches ``"preview"``)."""

        async def take() -> Any:
            while True:
                item = await self._inbox.get()
                if item is CLOSED:
                    self._inbox.put_nowait(CLOSED)
                    raise ConnectionError(f"the socket closed ({self.close_code})")
                kind = "preview" if isinstance(item, PreviewFrame) else item.get("type")
                if not types or kind in types:
                    return item

        return await asyncio.wait_for(take(), timeout)

    async def messages(self) -> AsyncIterator[Any]:
        """Every message that is not a reply, until the socket closes."""
        while True:
            try:
                yield await self.next()
            except ConnectionError:
                return

    # -- what the protocol offers --------------------------------------

    async def ping(self, data: dict | None = None) -> dict:
        return (await self.request("ping", data or {}))["data"]

    async def subscribe(self, video_id: str, *, previews: bool = False) -> dict:
        """Follow one of my videos (its ``video``, ``progress`` and ``status`` messages; previews as binary frames)."""
        return (await self.request("subscribe", {"video_id": video_id, "previews": previews}))["data"]

    async def unsubscribe(self, video_id: str) -> dict:
        return (await self.request("unsubscribe", {"video_id": video_id}))["data"]

    async def open_feed(self, kind: str = "for_you", *, window: int | None = None, session_id: str | None = None, cursor: int | None = None) -> "FeedSession":
        """Open (or resume) a swipe session; its ``feed.items`` then arrive as messages."""
        data: dict[str, Any] = {"kind": kind}
        for name, value in (("window", window), ("session_id", session_id), ("cursor", cursor)):
            if value is not None:
                data[name] = value
        reply = await self.request("feed.open", data)
        return FeedSession(self, reply["data"])

    async def preview_rtc(self, video_id: str, sdp: str) -> dict:
        """WebRTC signalling over the socket: the answer ``{video_id, peer_id, sdp, type}`` to my offer.
        The peer is closed when this socket closes."""
        return (await self.request("preview.rtc", {"video_id": video_id, "sdp": sdp, "type": "offer"}))["data"]

    async def close_rtc(self, peer_id: str) -> dict:
        return (await self.request("preview.rtc.close", {"peer_id": peer_id}))["data"]


class FeedSession:
    """One swipe session driven over a socket (docs/FEED-PROTOCOL.md)."""

    def __init__(self, socket: Socket, opened: dict):
        self.socket = socket
        self.id: str = opened["session_id"]
        self.kind: str = opened["kind"]
        self.window: int = opened["window"]
        self.cursor: int = opened["cursor"]

    async def items(self, timeout: float | None = None) -> dict:
        """The next ``feed.items`` of this session (its data: ``items``, ``cursor``, ``exhausted``)."""
        while True:
            msg = await self.socket.next("feed.items", timeout=timeout)
            if msg["data"].get("session_id") == self.id:
                self.cursor = msg["data"]["cursor"]
                return msg["data"]

    async def event(self, post_id: str, event: str, *, watch_ms: int | None = None, ack: bool = False) -> dict | None:
        """``impression``, ``view``, ``complete``, ``skip``, ``like``, ``share``, ``not_interested``;
        with ``ack`` wait for its ``feed.ack`` (its effects done; a refusal raises, and one by the
        message limits is retried, as ``Socket.request`` does). Without ``ack`` nothing is awaited:
        an event the message limits refused (60 at once, 6 a second per connection by default)
        is not handled, and its ``error`` comes unasked to ``Socket.messages``/``next``."""
        data: dict[str, Any] = {"session_id": self.id, "post_id": post_id, "event": event}
        if watch_ms is not None:
            data["watch_ms"] = watch_ms
        if ack:
            return (await self.socket.request("feed.event", data))["data"]
        await self.socket.send("feed.event", data)
        return None

    async def close(self) -> dict:
        return (await self.socket.request("feed.close", {"session_id": self.id}))["data"]
