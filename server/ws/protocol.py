"""Messages of the WebSocket API (``/v1/ws``): JSON ``{"type", "data"}``
both ways. See docs/WEBSOCKET.md for the protocol a client speaks."""

from __future__ import annotations

from typing import Any

import msgspec

MAX_MESSAGE_BYTES = 64 * 1024
OUTBOX_LIMIT = 256  # messages queued for one client before it is cut off as too slow

CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_MANY_CONNECTIONS = 4429  # the user holds ws_max_connections_per_user sockets on this process already
CLOSE_RATE_LIMITED = 1008  # (policy violation) went on sending far past the message limits (server.ws.rate)


class Message(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: str
    data: dict[str, Any] = {}
    id: str | None = None  # echoed on the reply, so a client can match answers to requests


class Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    video_id: str
    previews: bool = False  # also relay live preview frames (binary; server.ws.previews)


_decode = msgspec.json.Decoder(Message).decode
encode = msgspec.json.Encoder().encode


def decode(raw: str | bytes) -> Message:
    return _decode(raw)


def out(type_: str, data: Any, reply_to: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": type_, "data": data}
    if reply_to is not None:
        body["id"] = reply_to
    return encode(body)


def error(code: str, message: str, reply_to: str | None = None) -> bytes:
    return out("error", {"code": code, "message": message}, reply_to)
