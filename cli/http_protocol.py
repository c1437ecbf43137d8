"""uvicorn's protocols, answering what never reaches the app with the
project's error body.

Some requests are answered by uvicorn or the ``websockets`` library
themselves, in plain text or with no body at all:

* a request the HTTP parser cannot read (a garbled request line, a header
  without a colon, a bad chunk size): 400 ``malformed_http``;
* a WebSocket handshake the library refuses (a bad ``Sec-WebSocket-Key``,
  an unsupported version): 400 ``invalid_handshake``, with the library's
  reason as the message (405 ``method_not_allowed`` for an upgrade sent
  with another method than GET);
* a WebSocket to a path that serves none (no route, or HTTP routes only),
  which the app refuses by closing before it accepts: 404 ``not_found``
  (uvicorn would answer an empty 403); any other refusal before accepting:
  403 ``forbidden``.

These protocols answer them as every other error leaves the api,
``{"error": {"code", "message", "details"}}`` with ``Content-Type:
application/json``, and close the connection, so a client that reads
errors as JSON reads these too. ``fabula api`` and the feed bench pass
them to uvicorn as ``http=HTTP_PROTOCOL, ws=WS_PROTOCOL``.

The WebSocket one extends uvicorn's ``websockets-sansio`` implementation
(the ``websockets`` one it replaced is deprecated; docs/PERFORMANCE.md has
the feed bench on both)."""

from __future__ import annotations

import dataclasses
import http
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.http11 import Response

from core.errors import ErrorBody, ErrorInfo

# import strings: each worker process imports them
HTTP_PROTOCOL = "cli.http_protocol:JsonErrorHttpToolsProtocol"
WS_PROTOCOL = "cli.http_protocol:JsonErrorWebSocketProtocol"

MALFORMED_MESSAGE = "the request could not be read as HTTP/1.1"
_LIBRARY_PREFIX = "Failed to open a WebSocket connection: "
# Litestar's close reasons, before accepting, for a path it does not route ("Not Found") and for
# one whose routes are HTTP only (its router's ClientException: "Bad Request"); the app's own
# socket (/v1/ws) accepts first and tells its errors over the socket
NO_SOCKET_REASONS = frozenset({"Not Found", "Bad Request"})


def error_json(code: str, message: str) -> bytes:
    return msgspec.json.encode(ErrorBody(error=ErrorInfo(code=code, message=message, details=None)))


def malformed_http_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole 400 answer, status line to body, with the server's default headers."""
    body = error_json(code="malformed_http", message=MALFORMED_MESSAGE)
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [b"content-type: application/json", b"content-length: " + str(len(body)).encode(), b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def handshake_error(status: int, text: str) -> bytes:
    """The error body for a refused WebSocket handshake (``text``: the plain-text body it replaces)."""
    reason = text.strip().splitlines()[0] if text.strip() else ""
    reason = reason.removeprefix(_LIBRARY_PREFIX).rstrip(".").split("; ")[0]  # the library's sentence, not its causes' reprs
    if status == 404:
        return error_json(code="not_found", message="no WebSocket is served at this path")
    if status == 400:
        return error_json(code="invalid_handshake", message=reason or "the WebSocket handshake could not be read")
    if status == 403:
        return error_json(code="forbidden", message=reason or "the WebSocket was refused before it opened")
    if status == 405:  # an upgrade by another method than GET (the library names it; Allow: GET)
        return error_json(code="method_not_allowed", message=reason or "a WebSocket opens with GET")
    return error_json(code="invalid_handshake", message=reason or http.HTTPStatus(status).phrase)


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the 400 in the error body, sent in
    turn: when the unreadable bytes come pipelined after requests that were
    read whole, those are answered first, then the 400, then the connection
    closes (uvicorn wrote the 400 and closed at once, so the requests before
    it got no answer). Unreadable bytes inside the body of a request that
    waits behind others (a bad chunk size) take that request out of the
    queue unanswered by the app: the 400 is its answer, after the others'."""

    garbled = False  # unreadable bytes came after requests still being answered
    _previous_cycle = None  # the request parsed before the newest one

    def on_headers_complete(self) -> None:
        self._previous_cycle = self.cycle
        super().on_headers_complete()

    def _answering(self) -> bool:
        """Whether requests read whole are still to be answered (not when the
        unreadable bytes are inside the last request's own body and it is
        the one running: that one is answered by the 400)."""
        if self.cycle is None or self.cycle.more_body:
            return False
        return bool(self.pipeline) or not self.cycle.response_complete

    def _drop_queued(self) -> bool:
        """Take the newest request out of the queue of pipelined requests, if
        it waits there (its body could not be read: the app never sees it)."""
        if self.cycle is None or not self.cycle.more_body or not self.pipeline or self.pipeline[0][0] is not self.cycle:
            return False
        self.pipeline.popleft()
        self.cycle = self._previous_cycle  # the request before it: answered, then the 400
        return True

    def send_400_response(self, msg: str) -> None:  # uvicorn's hook; ``msg`` is its plain-text sentence
        if self._drop_queued() or self._answering():
            self.garbled = True
            self.flow.pause_reading()  # nothing after the unreadable bytes is read
            return
        self.transport.write(malformed_http_response(self.server_state.default_headers))
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next pipelined request, if any
        if self.garbled and not self.transport.is_closing():
            if self._answering():
                self.flow.pause_reading()  # uvicorn resumed reading for the next request
            else:
                self.send_400_response("")


class JsonErrorWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol with every refused handshake
    in the error body. Its refusals all leave through the library's
    ``send_response`` (the library's own 400, 414 and 431, uvicorn's 403 for
    an app that closes before accepting), which this wraps; a close before
    accepting for a path with no socket is a 404."""

    unrouted = False  # the app closed before accepting: no socket at this path

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        send_response = self.conn.send_response

        def send_json_refusal(response: Response) -> None:
            send_response(self.json_refusal(response))

        self.conn.send_response = send_json_refusal  # the library calls it too (its 414 and 431)

    def json_refusal(self, response: Response) -> Response:
        """``response`` with the error body, when it refuses the handshake in plain text."""
        if response.status_code < 400 or "json" in response.headers.get("Content-Type", ""):
            return response
        status = 404 if self.unrouted and response.status_code == 403 else response.status_code
        body = handshake_error(status, response.body.decode("utf-8", "replace"))
        headers = Headers([(k, v) for k, v in response.headers.raw_items() if k.lower() not in ("content-type", "content-length")])
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(body))
        return dataclasses.replace(response, status_code=status, reason_phrase=http.HTTPStatus(status).phrase, headers=headers, body=body)

    async def send(self, message) -> None:
        if message["type"] == "websocket.close" and not self.handshake_complete and message.get("reason") in NO_SOCKET_REASONS:
            self.unrouted = True
        await super().send(message)

    def handle_handshake_exception(self) -> None:
        # uvicorn's own answer to a handshake the library could not read bypasses send_response
        output = b"".join(self.conn.data_to_send())
        if not output:
            self.conn.send_response(self.conn.reject(400, "Failed to open a WebSocket connection: invalid request.\n"))
            output = b"".join(self.conn.data_to_send())
        self.handshake_complete = True
        self.close_sent = True
        self.transport.write(output)
        self.transport.close()
