"""What never reaches the app's routes still gets the project's error body:
a request the HTTP parser cannot read (400 ``malformed_http``), a WebSocket
handshake the library refuses (400 ``invalid_handshake``) and a WebSocket to
a path nobody serves (404 ``not_found``). The api closes that connection and
goes on serving everyone else."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from cli.http_protocol import handshake_error
from tests.procs import start_api

UNREADABLE = {
    "a request line that is not HTTP": b"HELLO THERE\r\n\r\n",
    "a header without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "a chunk size that is not hexadecimal": b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "a space inside a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n",
}


def handshake(path: str, key: str = "dGhlIHNhbXBsZSBub25jZQ==", version: str = "13") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    ).encode()


REFUSED_HANDSHAKES = {
    "a key that is not base64": (handshake("/v1/ws", key="bad"), 400, "invalid_handshake", "Sec-WebSocket-Key"),
    "an unsupported version": (handshake("/v1/ws", version="7"), 400, "invalid_handshake", "Sec-WebSocket-Version"),
    "a path nobody serves": (handshake("/v1/no-such-socket"), 404, "not_found", "WebSocket"),
    "a path that serves HTTP only": (handshake("/v1/me"), 404, "not_found", "WebSocket"),
    "a header line over the library's limit": (
        handshake("/v1/ws").replace(b"\r\n\r\n", b"\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n"), 431, "invalid_handshake", "8192",
    ),
    "an upgrade by POST": (handshake("/v1/ws").replace(b"GET ", b"POST ", 1), 405, "method_not_allowed", "POST"),
}


async def raw_exchange(url: str, data: bytes) -> bytes:
    """Send ``data`` as it is and read until the server closes the connection."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)  # to EOF: the server must close
    finally:
        writer.close()


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    assert raw, "the server closed without an answer"
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def responses_in_order(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every response of a pipelined exchange, in the order they came (each with a Content-Length)."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, headers, _ = split_response(head + b"\r\n\r\n")
        length = int(headers["content-length"])
        out.append((status, headers, rest[:length]))
        raw = rest[length:]
    return out


PIPELINED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHELLO THERE\r\n\r\n"
# the unreadable bytes inside the body of the third request (a chunk size that is not hexadecimal)
PIPELINED_BAD_BODY = (
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"2\r\n{}\r\nzz\r\n"
)


async def test_an_unreadable_request_gets_the_error_body_and_the_api_goes_on(settings, tmp_root):
    api = start_api(settings, tmp_root / f"logs-malformed-{uuid.uuid4().hex[:6]}")
    try:
        for what, data in UNREADABLE.items():
            status, headers, body = split_response(await raw_exchange(api.url, data))
            assert status == 400, (what, status, body)
            assert headers["content-type"] == "application/json", (what, headers)
            assert int(headers["content-length"]) == len(body), what
            assert headers["connection"] == "close", what
            error = json.loads(body)["error"]
            assert error["code"] == "malformed_http", (what, error)
            assert error["message"] and "details" in error, (what, error)
        # readable requests pipelined before unreadable bytes are answered first, in order, then the 400
        answers = responses_in_order(await raw_exchange(api.url, PIPELINED))
        assert [status for status, _, _ in answers] == [200, 200, 400], answers
        assert json.loads(answers[2][2])["error"]["code"] == "malformed_http" and answers[2][1]["connection"] == "close"
        # the same when they are inside the body of a request waiting behind others: the app never runs it
        answers = responses_in_order(await raw_exchange(api.url, PIPELINED_BAD_BODY))
        assert [status for status, _, _ in answers] == [200, 200, 400], answers
        assert json.loads(answers[2][2])["error"]["code"] == "malformed_http" and answers[2][1]["connection"] == "close"
        for what, (data, want_status, want_code, in_message) in REFUSED_HANDSHAKES.items():
            status, headers, body = split_response(await raw_exchange(api.url, data))
            assert status == want_status, (what, status, body)
            assert headers["content-type"] == "application/json", (what, headers)
            assert int(headers["content-length"]) == len(body), what
            error = json.loads(body)["error"]
            assert error["code"] == want_code and in_message in error["message"], (what, error)
        # a readable request and a good handshake on new connections are served as ever
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200
            r = await http.post("/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json", r.text
        async with websockets.connect(api.url.replace("http://", "ws://") + "/v1/ws") as ws:  # no token: accepted, then told why
            message = json.loads(await ws.recv())
            assert message["type"] == "error" and message["data"]["code"] == "missing_token", message
    finally:
        api.stop()
    assert "Traceback" not in api.log(), api.log()[-4000:]


def test_a_refused_handshake_keeps_the_librarys_reason_and_drops_its_causes():
    library = "Failed to open a WebSocket connection: invalid Sec-WebSocket-Key header: bad; Incorrect padding.\n"
    assert json.loads(handshake_error(400, library)) == {
        "error": {"code": "invalid_handshake", "message": "invalid Sec-WebSocket-Key header: bad", "details": None}
    }
    # the app closing before it accepts (uvicorn's empty 403) is a forbidden with a sentence
    refused = json.loads(handshake_error(403, ""))["error"]
    assert refused["code"] == "forbidden" and refused["message"]
    assert json.loads(handshake_error(404, ""))["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_a_plain_request_to_the_socket_names_get_as_its_method(http, method):
    """The WebSocket's path answers a plain request 405 with ``Allow: GET`` (its
    handshake's method); it said ``websocket``, which is no HTTP method."""
    r = await http.request(method, "/v1/ws")
    assert r.status_code == 405 and r.headers["allow"] == "GET", (r.status_code, r.headers.get("allow"))
    if method != "HEAD":
        assert r.json()["error"]["code"] == "method_not_allowed"
