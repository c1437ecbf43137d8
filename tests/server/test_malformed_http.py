"""A request the HTTP parser cannot read never reaches the app; the api
still answers it with the project's error body (400 ``malformed_http``),
closes that connection, and goes on serving everyone else."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from tests.procs import start_api

UNREADABLE = {
    "a request line that is not HTTP": b"HELLO THERE\r\n\r\n",
    "a header without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "a chunk size that is not hexadecimal": b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "a space inside a header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Bad: 1\r\n\r\n",
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
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


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
        # a readable request on a new connection is served as ever
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200
            r = await http.post("/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json", r.text
    finally:
        api.stop()
    assert "Traceback" not in api.log(), api.log()[-4000:]
