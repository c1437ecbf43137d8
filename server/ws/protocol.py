"""Messages of the WebSocket API (``/v1/ws``): JSON ``{"type", "data"}``
both ways. See docs/WEBSOCKET.md for the protocol a client speaks."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from core.errors import FabulaError

MAX_MESSAGE_BYTES = 64 * 1024
OUTBOX_LIMIT = 256  # messages queued for one client before it is cut off as too slow

CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_MANY_CONNECTIONS = 4429  # the user holds ws_max_connections_per_user sockets on this process already
CLOSE_RATE_LIMITED = 1008  # (policy violation) went on sending far past the message limits (server.ws.rate)
CLOSE_TRY_AGAIN = 1013  # (try again later) Mongo or Redis did not answer while the connection was being set up

# The longest strings a client may send in these fields (longer: ``invalid_message``).
# Replies and errors repeat them (``id`` on every reply, the type in ``unknown_type``,
# the video id in ``video_not_found``), so each is kept far below the frame's 64 KiB.
MAX_TYPE_LENGTH = 64
MAX_REQUEST_ID_LENGTH = 128  # the client's own ``id``, echoed on every reply
MAX_OBJECT_ID_LENGTH = 64  # a video, post, peer, session ... id (ours are ~30 characters)

ObjectId = Annotated[str, msgspec.Meta(max_length=MAX_OBJECT_ID_LENGTH)]


class Message(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: Annotated[str, msgspec.Meta(max_length=MAX_TYPE_LENGTH)]
    data: dict[str, Any] = {}
    # echoed on the reply, so a client can match answers to requests
    id: Annotated[str, msgspec.Meta(max_length=MAX_REQUEST_ID_LENGTH)] | None = None


class Subscribe(msgspec.Struct, forbid_unknown_fields=True):
    video_id: ObjectId
    previews: bool = False  # also relay live preview frames (binary; server.ws.previews)


class _Envelope(msgspec.Struct):
    """Only what a reply needs of a message whose ``data`` did not decode (a number
    out of range inside it): its ``id``, when that is one a reply may echo."""

    id: Any = None
    data: msgspec.Raw = msgspec.Raw(b"{}")


_decode = msgspec.json.Decoder(Message).decode
_envelope = msgspec.json.Decoder(_Envelope).decode
encode = msgspec.json.Encoder().encode


def decode(raw: str | bytes) -> Message:
    return _decode(raw)


def request_id(raw: str | bytes) -> str | None:
    """The ``id`` of a message that did not decode as a whole, if it can be echoed."""
    try:
        found = _envelope(raw).id
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    return found if isinstance(found, str) and len(found) <= MAX_REQUEST_ID_LENGTH else None


def out(type_: str, data: Any, reply_to: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": type_, "data": data}
    if reply_to is not None:
        body["id"] = reply_to
    return encode(body)


def error(code: str, message: str, reply_to: str | None = None) -> bytes:
    return out("error", {"code": code, "message": message}, reply_to)


def error_of(exc: FabulaError, reply_to: str | None = None) -> bytes:
    """The ``error`` message for one of the project's errors: its code and
    message, and the fields of its details beside them (a ``rate_limited``
    error's ``retry_after_s`` and ``limit``, as the message limits send)."""
    data: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc.details, dict):
        data.update({k: v for k, v in exc.details.items() if k not in data})
    return out("error", data, reply_to)
