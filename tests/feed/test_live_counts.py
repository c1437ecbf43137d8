"""Live counts on the swipe stream: a change made through one api replica
reaches a swiper on another (Redis pub/sub), only for posts in the swiper's
window; a client that stops reading gets coalesced counts and costs the
server a bounded amount of memory; one that never reads is cut off (4408)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import time

import httpx
import msgspec
import psutil
import pytest

from feed.live.counts_hub import CountsHub
from feed.social import counters
from server.ws import feed_session
from server.ws import protocol as proto
from tests.feed.test_feed_stream import open_feed, until
from tests.feed.test_posts_feed import poll
from tests.feed.test_ranking import make_authors, make_user, new_world, seed_posts
from tests.server.test_ws import WAIT, connect, recv, send


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


async def test_a_like_on_one_replica_reaches_a_swiper_on_another(world):
    authors = await make_authors(world.stores, 10)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"live clip {i}"} for i, a in enumerate(authors)])
    swiper, fan = await make_user(world.stores), await make_user(world.stores)
    a, b = world.start_api(), world.start_api()
    async with connect(a, swiper) as ws, httpx.AsyncClient(base_url=b.url, timeout=30) as http_b:
        session, items, _ = await open_feed(ws, kind="for_you", window=3)
        in_window = [i["id"] for i in items]
        state_ids = set(in_window)
        outside = next(p for p in (await world.stores.db["posts"].find({}, {"_id": 1}).to_list()) if p["_id"] not in state_ids)["_id"]

        r = await http_b.post(f"/v1/posts/{outside}/like", headers=fan["headers"])  # not in the window: not pushed
        assert r.status_code == 200, r.text
        r = await http_b.post(f"/v1/posts/{in_window[1]}/like", headers=fan["headers"])
        assert r.status_code == 200 and r.json()["likes"] == 1, r.text
        pushed = []
        while True:
            msg = await until(ws, "feed.counts")
            pushed.append(msg["data"])
            if msg["data"]["posts"].get(in_window[1], {}).get("likes") == 1:
                break
        assert all(outside not in p["posts"] and set(p["posts"]) <= state_ids for p in pushed)
        assert pushed[-1]["session_id"] == session["session_id"]
        assert set(pushed[-1]["posts"][in_window[1]]) == {"likes", "comments", "views", "remixes", "shares"}

        # a view through replica B, then a comment: each change arrives, newest values
        r = await http_b.post(f"/v1/posts/{in_window[2]}/view", json={"watch_ms": 3000, "completed": True}, headers=fan["headers"])
        assert r.status_code == 200, r.text
        msg = await until(ws, "feed.counts")
        assert msg["data"]["posts"][in_window[2]]["views"] == 1


async def _classifier_loaded(http) -> bool:
    return (await http.get("/readyz")).json().get("moderation") is True


async def test_a_reader_that_stalls_gets_coalesced_counts_and_the_server_stays_flat(world):
    authors = await make_authors(world.stores, 8)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"busy clip {i}"} for i, a in enumerate(authors)])
    swiper = await make_user(world.stores)
    api = world.start_api()
    proc = psutil.Process(api.proc.pid)
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        # the api loads its prompt classifier in the background at start: measure memory after that
        await poll(lambda: _classifier_loaded(http), timeout=120, what="the api's prompt classifier to load")
    async with connect(api, swiper) as ws:
        _, items, _ = await open_feed(ws, kind="for_you", window=4)
        window = [i["id"] for i in items]
        # stop reading; the counters of every post in the window move a thousand times
        rss_before = proc.memory_info().rss
        started = time.monotonic()
        bumps = 1200
        for start in range(0, bumps, 60):
            await asyncio.gather(*(counters.bump(world.stores, window[n % 4], views=1, watch_ms=10) for n in range(start, start + 60)))
        flood_s = time.monotonic() - started
        rss_after = proc.memory_info().rss
        final = await counters.get_counts(world.stores, window)

        # now read everything the server sent meanwhile, until the final values are in
        latest: dict[str, dict] = {}
        received = updates = 0
        while any(latest.get(pid, {}).get("views") != final[pid]["views"] for pid in window):
            msg = await until(ws, "feed.counts")
            received += 1
            updates += len(msg["data"]["posts"])
            latest.update(msg["data"]["posts"])
        read_s = time.monotonic() - started
        # at most one message per push interval, one entry per post in the window: far fewer than the changes
        assert received <= read_s / feed_session.COUNTS_INTERVAL_S + 2, (received, read_s)
        assert updates <= len(window) * received and updates < bumps / 4, (updates, received)
        assert rss_after - rss_before < 32 * 1024 * 1024, (rss_before, rss_after, flood_s)
        await send(ws, "ping", {}, "alive")  # not cut off: counts were coalesced, not queued
        assert (await until(ws, "pong"))["id"] == "alive"


class _Outbox:
    """A connection outbox that nobody drains (the client stopped reading)."""

    def __init__(self, fill: int):
        self.items = ["old"] * fill

    def qsize(self) -> int:
        return len(self.items)


class _Conn:
    def __init__(self, fill: int):
        self.outbox = _Outbox(fill)
        self.sent: list[bytes] = []

    def send(self, message: bytes) -> None:
        self.sent.append(message)
        self.outbox.items.append(message)


class _Stream:
    id = "fs_test"

    def __init__(self, window: list[str]):
        self._window = window

    def window_ids(self) -> list[str]:
        return self._window


class _Runtime:
    def __init__(self):
        self.hub = CountsHub.__new__(CountsHub)
        self.hub.watchers, self.hub.watching = {}, {}


async def test_pending_counts_stay_one_per_window_post_while_the_outbox_is_backed_up():
    window = [f"post_{i}" for i in range(5)]
    conn = _Conn(fill=proto.OUTBOX_LIMIT // 2)  # half full: the pusher must hold back
    rt = _Runtime()
    live = feed_session.Live(conn, _Stream(window), rt)  # type: ignore[arg-type]
    live.rewatch()
    assert set(rt.hub.watchers) == set(window)
    task = asyncio.create_task(live.push_counts())
    try:
        for n in range(20_000):
            for watcher in list(rt.hub.watchers.get(window[n % 5], ())):
                watcher.counts_changed(window[n % 5], {"likes": n, "views": n})
            live.counts_changed("post_elsewhere", {"likes": n})  # not in the window: dropped
            if n % 1000 == 0:
                await asyncio.sleep(0)
        assert len(live.pending) <= len(window) and "post_elsewhere" not in live.pending
        assert conn.sent == []  # nothing queued while the client is behind
        conn.outbox.items.clear()  # the client catches up
        deadline = time.monotonic() + 10
        while not conn.sent and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(conn.sent) == 1  # every post that changed, in one message
        got = {pid: counts["likes"] for pid, counts in json.loads(conn.sent[0])["data"]["posts"].items()}
        assert got == {window[i]: 20_000 - 5 + i for i in range(5)}  # the latest of each, once
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert rt.hub.watchers == {} and rt.hub.watching == {}  # a closed session leaves nothing behind


def _client_frame(text: str) -> bytes:
    """One masked text frame, as a client sends it."""
    data, mask = text.encode(), os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack("!Q", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _close_code(stream: bytes) -> int | None:
    """The code of the close frame in a stream of server frames (unmasked), if any."""
    at = 0
    while at + 2 <= len(stream):
        opcode, n = stream[at] & 0x0F, stream[at + 1] & 0x7F
        at += 2
        if n == 126:
            n, at = struct.unpack("!H", stream[at : at + 2])[0], at + 2
        elif n == 127:
            n, at = struct.unpack("!Q", stream[at : at + 8])[0], at + 8
        if opcode == 0x8:
            return struct.unpack("!H", stream[at : at + 2])[0] if n >= 2 else None
        at += n
    return None


async def test_a_client_that_never_reads_is_cut_off_and_the_server_memory_stays_flat(world):
    """A raw socket that sends and never reads: each ping asks for a 16 KB pong,
    48 MB in all; the server holds a bounded outbox, then closes with 4408."""
    viewer = await make_user(world.stores)
    # the message limits (server.ws.rate) would stop the flood first: this is the outbox's test
    world.settings = msgspec.structs.replace(world.settings, rate_ws_connection="off", rate_ws_user="off")
    api = world.start_api()
    proc = psutil.Process(api.proc.pid)
    port = int(api.url.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:  # its memory is measured once the classifier is in
        await poll(lambda: _classifier_loaded(http), timeout=120, what="the api's prompt classifier to load")

    def flood() -> tuple[int, int, int | None]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.settimeout(WAIT)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
             f"Authorization: {viewer['headers']['Authorization']}\r\n\r\n").encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        before = proc.memory_info().rss
        ping = _client_frame(json.dumps({"type": "ping", "data": {"pad": "x" * 16_000}}))
        with contextlib.suppress(OSError):  # the server may cut us off while we still send
            for _ in range(3000):
                sock.sendall(ping)
        grown = proc.memory_info().rss - before
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(1 << 20):
                received += chunk
        sock.close()
        return grown, len(received), _close_code(received)

    grown, read, code = await asyncio.to_thread(flood)
    assert grown < 32 * 1024 * 1024, grown
    assert read < 24 * 1024 * 1024, read  # far less than the 48 MB of pongs asked for
    assert code == proto.CLOSE_TOO_SLOW
    async with connect(api, viewer) as ws:  # and the api carries on
        await send(ws, "ping", {}, "ok")
        assert (await recv(ws))["id"] == "ok"
