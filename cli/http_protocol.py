"""uvicorn's httptools protocol with the project's error body for requests
that are not HTTP at all.

A request the parser cannot read (a garbled request line, a header with a
newline in its name, a bad chunk size) never reaches the app: uvicorn
answers it itself, in plain text. This protocol answers it as every other
error leaves the api, ``{"error": {"code", "message", "details"}}``, with a
400 ``malformed_http`` and the connection closed, so a client that reads
errors as JSON reads this one too. ``fabula api`` and the feed bench pass
it to uvicorn as ``http=PROTOCOL``."""

from __future__ import annotations

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.errors import ErrorBody, ErrorInfo

PROTOCOL = "cli.http_protocol:JsonErrorHttpToolsProtocol"  # an import string: each worker process imports it
MESSAGE = "the request could not be read as HTTP/1.1"


def malformed_http_response(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole 400 answer, status line to body, with the server's default headers."""
    body = msgspec.json.encode(ErrorBody(error=ErrorInfo(code="malformed_http", message=MESSAGE)))
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [b"content-type: application/json", b"content-length: " + str(len(body)).encode(), b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:  # uvicorn's hook; ``msg`` is its plain-text sentence
        self.transport.write(malformed_http_response(self.server_state.default_headers))
        self.transport.close()
