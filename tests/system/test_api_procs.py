"""``fabula dev --api-procs 2`` serves one port from two api processes, each
binding it with SO_REUSEPORT, and a swiper's feed session opened on one of
them resumes on the other: the items it had not seen come again, then new
ones, never one twice (docs/FEED-PROTOCOL.md, resume)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import websockets

from cli.dev import running_dev_env
from core.embedded import free_port
from core.settings import Settings
from core.stores import open_stores
from feed.serving import sessions
from tests.feed.test_feed_stream import event, next_items, open_feed
from tests.feed.test_ranking import make_authors, make_user, seed_posts
from tests.server.test_ws import recv
from tests.system.test_cli_dev import ctrl_c, wait_serving

WAIT = 120.0


def start_dev(tmp_path: Path, model_dir: Path, port: int, procs: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABULA_")}
    env.update(FABULA_MODEL_DIR=str(model_dir), FABULA_GEN_THREADS="1")
    log = open(tmp_path / "dev.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dev", "--port", str(port), "--data", str(tmp_path / "var"), "--api-procs", str(procs)],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def api_pids(dev: subprocess.Popen) -> list[int]:
    return [p.pid for p in psutil.Process(dev.pid).children() if "api" in p.cmdline()[3:4]]


def listening(pids: list[int], port: int) -> set[int]:
    """The processes among ``pids`` that listen on ``port``."""
    out = set()
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
                out.add(pid)
    return out


def serving(pids: list[int], port: int, client_port: int) -> int | None:
    """Which of ``pids`` holds the server side of the connection from ``client_port``."""
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.laddr.port == port and conn.raddr and conn.raddr.port == client_port:
                return pid
    return None


async def connect_to(url: str, user: dict, pids: list[int], port: int, *, not_on: int | None = None):
    """A connection past its hello, and the api process that took it; with
    ``not_on``, connect again until another process takes one."""
    deadline = time.monotonic() + WAIT
    while True:
        ws = await websockets.connect(url.replace("http://", "ws://") + "/v1/ws", additional_headers=user["headers"], open_timeout=WAIT)
        assert (await recv(ws))["type"] == "hello"
        pid = serving(pids, port, ws.transport.get_extra_info("sockname")[1])
        if pid is not None and pid != not_on:
            return ws, pid
        await ws.close()
        assert time.monotonic() < deadline, "every connection went to the same api process"


async def scenario(url: str, env: dict[str, str], pids: list[int], port: int, data_dir: Path) -> None:
    settings = Settings(mongo_url=env["FABULA_MONGO_URL"], redis_url=env["FABULA_REDIS_URL"], namespace=env["FABULA_NAMESPACE"], data_dir=data_dir)
    stores = open_stores(settings)
    try:
        authors = await make_authors(stores, 20)
        await seed_posts(stores, [{"author_id": authors[i % 20], "caption": f"clip number {i} of the shared feed"} for i in range(40)])
        viewer = await make_user(stores)

        # a session with its window full (the processes' pools take the posts in within seconds)
        deadline = time.monotonic() + WAIT
        while True:
            ws, first_pid = await connect_to(url, viewer, pids, port)
            session, items, _ = await open_feed(ws, kind="for_you", window=5)
            if len(items) == 5:
                break
            await ws.close()
            assert time.monotonic() < deadline, "the feed never filled a window"
        sid = session["session_id"]
        received = list(items)
        for item in items[:2]:
            await event(ws, sid, item["id"], "view", watch_ms=2000)
        received += await next_items(ws, 2)
        await ws.close()
        cursor = received[-1]["index"] + 1 - 2  # the client lost the last two items in flight

        ws, second_pid = await connect_to(url, viewer, pids, port, not_on=first_pid)
        try:
            assert second_pid != first_pid
            resumed, again, _ = await open_feed(ws, session_id=sid, cursor=cursor)
            assert resumed["session_id"] == sid and resumed["cursor"] == cursor
            assert [i["index"] for i in again] == list(range(cursor, cursor + len(again)))
            assert all(i["source"] == "resent" for i in again)
            kept = received[:cursor] + again
            for item in kept[2:]:
                await event(ws, sid, item["id"], "complete", watch_ms=6000)
            kept += await next_items(ws, len(kept) - 2)
        finally:
            await ws.close()
        assert [i["index"] for i in kept] == list(range(len(kept)))
        ids = [i["id"] for i in kept]
        assert len(ids) == len(set(ids))
        assert (await sessions.load(stores, sid)).served[: len(ids)] == ids
    finally:
        await stores.close()


def test_two_api_processes_share_the_port_and_a_session_resumes_on_either(tmp_path, model_dir):
    port = free_port()
    dev = start_dev(tmp_path, model_dir, port, procs=2)
    try:
        wait_serving(tmp_path, dev)
        pids = api_pids(dev)
        assert len(pids) == 2
        deadline = time.monotonic() + WAIT
        while listening(pids, port) != set(pids):  # both bound the one port
            assert time.monotonic() < deadline and dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            time.sleep(0.2)
        env = running_dev_env(tmp_path / "var")
        asyncio.run(scenario(f"http://127.0.0.1:{port}", env, pids, port, tmp_path / "var"))
    finally:
        ctrl_c(dev)
