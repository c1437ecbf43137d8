"""The ranked feed under load: N simulated swipers on the WebSocket stream,
and GET /v1/feed?kind=for_you against a hello route, in one run.

What it does:
  1. Starts embedded Valkey + nx-27017 in a temporary directory and seeds them
     directly (insert_many into the same collections, with the same document
     shapes the code writes): ``--users`` users (accounts.users.create_user's
     shape) each following ``--follows`` others (accounts.graph_writes.follow's shape,
     counters included), a bearer token per user (accounts.tokens.issue's
     shape), and ``--posts`` public posts (feed.publishing.publish's shape plus
     feed.social.counters.initial_fields(), with random engagement and ages up to a
     week). Captions come from a few hundred distinct texts on ~20 topics;
     each post's embedding is feed.ranking.embeddings.embed_texts of its
     post_text(prompt, caption), as at publish.
  2. Serves the real app (server.app.create_app, JSON request logging as
     ``fabula api`` has it) under uvicorn (uvloop + httptools), one worker,
     beside ``--builders`` opening builders (``fabula feed-builder``, one by
     default as ``fabula dev`` runs; their CPU is printed beside the api's),
     plus bench-only routes: an authenticated hello (/bench/hello); the
     floor of a first for_you page (/bench/feed-floor: the same session,
     taste read, writes and render as the real page, of pool posts taken at
     random, without the ranking); a fixed page (/bench/page-static: the
     same 10 rendered posts every time, no feed work); and that fixed page
     after n Redis round trips (/bench/round-trips?n=).
  3. (after 4.) For each N in ``--swipers``: N asyncio WebSocket clients in this process
     open a for_you session (window ``--window``) and swipe as the protocol
     says a client does: when an item comes on screen, an ``impression`` (the
     client moved one on, so the server serves one more item at the end of
     the window); ``--dwell-ms`` later (+-50%, random) the event that says
     how it was watched (view 60%, skip 25%, complete 15%, with watch_ms);
     a ``like`` halfway through on 10% of items. Measured over ``--duration``
     seconds after all sessions are open: next-item latency (impression sent
     -> the feed.items with the item it called for received), p50/p99;
     events/s (all three kinds); CPU of the api process, of the database
     processes and of this load generator (% of one core).
  4. Before the swipers (on a fresh api): every user's first for_you page
     once, 16 at a time (timed: the cold rate, every graph read from Mongo),
     so wrk then measures users active in the last hour (and, with builders,
     waits until they have built every user's opening); then wrk on GET /healthz (no auth),
     GET /bench/hello (auth: token lookup and user read, nothing else),
     GET /v1/feed?kind=for_you&limit=10 (a Lua script rotates the users'
     tokens; every request is a first page, i.e. a new feed session), the
     floor and the fixed page; users scrolling the same feed (a script per
     ``--scroll-pages`` count: each user's first page, then the next ones by
     next_cursor; one connection per wrk thread); with ``--round-trips``,
     the round-trip routes. All interleaved for ``--rounds`` rounds; prints
     the feed's throughput and api CPU per request as ratios of the others,
     the share of pages served from openings (the api's
     ``fabula_feed_pages_total``) and, with ``--mongo-ops``, the api's Mongo
     commands per request.

Everything shares this machine's cores: the api, the database servers, the
swipers and wrk. Usage (from the repository root):

    .venv/bin/python bench/feed.py [--swipers 50,200,500] [--duration 20]
        [--dwell-ms 3000] [--posts 10000] [--users 1000] [--wrk-duration 10]
        [--rounds 2] [--scroll-pages 1,5] [--round-trips 0,2,6] [--api-workers 1]
        [--builders 1] [--builder-nice 19] [--mongo-ops] [--lag --keep-log api.log]

``--lag`` makes the api log its event-loop lag and GC pauses every 5 s,
and each full collection's length with the objects it walked and freed
(``FABULA_BENCH_LAG=types`` adds the most common GC-tracked object types,
``FABULA_BENCH_LAG=steps`` the event-loop steps that ran over 5 ms, by where they started and stopped,
on asyncio's own loop instead of uvloop);
``--keep-log`` keeps that log.

``--index-ab PAIRS`` compares the catalogue index used and not used by the
same api on the same data: after a warm-up phase that is not counted,
PAIRS pairs of phases per swiper count, on then off, off then on, ...
(switched through the bench-only POST /bench/catalogue?on=), then the
medians and their ratio. ``--memory-every S`` samples the api's RSS every S
seconds of each measured phase (for the flatness run: ``--swipers 500
--duration 600 --memory-every 60``). Each phase prints the shortlist builds
it caused, by reason (``fabula_feed_shortlist_builds_total``), and its p99
and its builds per ``--window-s`` seconds (30 unless told), to show where in
the phase the tail came and whether rebuilds came with it.

Needs wrk (Debian: apt-get install -y wrk) for the HTTP part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where this file would
# stand in for the ``feed`` package (and bench/job_queue.py for the stdlib's queue).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HELLO_PATH = "/bench/hello"
FLOOR_PATH = "/bench/feed-floor"
STATIC_PATH = "/bench/page-static"
ROUND_TRIPS_PATH = "/bench/round-trips"
MONGO_OPS_PATH = "/bench/mongo-ops"
CATALOGUE_PATH = "/bench/catalogue"
MEMORY_TOP_PATH = "/bench/memory-top"
TIME_PREFIX = "µs "  # in the Mongo-ops counter: time spent, not commands
HELLO_NAME = "GET /bench/hello (auth)"
FLOOR_NAME = "GET /bench/feed-floor (no ranking)"
STATIC_NAME = "GET /bench/page-static (fixed page)"
SCROLL_NAME = "GET /v1/feed, scrolling ({pages} pages)"
TRIPS_NAME = "GET /bench/round-trips?n={n}"

SUBJECTS = [
    "a cat", "a golden retriever", "a robot", "an astronaut", "a dragon", "a street dancer", "a chef", "a surfer",
    "a skier", "a jazz pianist", "a paper airplane", "a tiny dinosaur", "a knight", "a ballerina", "a racing car",
    "a hot air balloon", "an octopus", "a skateboarder", "a wizard", "a lighthouse keeper",
]
ACTIONS = ["dancing", "exploring", "cooking dinner", "racing", "sleeping", "playing music", "flying", "painting"]
PLACES = ["in a neon city at night", "on a snowy mountain", "under the sea", "on the moon"]


# --- the app as served -------------------------------------------------------


def make_app():
    """``fabula api``'s app with its logging, plus an authenticated hello."""
    import msgspec
    from litestar import get, post

    from accounts.users import User
    from core.logs import setup_logging
    from core.settings import load_settings
    from core.stores import Stores
    from server.app import create_app
    from server.auth import AUTH
    from server.routes.feed import FeedPage

    class Hello(msgspec.Struct):
        hello: str

    @get(HELLO_PATH, dependencies=AUTH, signature_namespace={"User": User, "Hello": Hello})
    async def hello(user: User) -> Hello:
        return Hello(hello=user.handle)

    @get(FLOOR_PATH, dependencies=AUTH, signature_namespace={"User": User, "Stores": Stores, "FeedPage": FeedPage})
    async def floor(stores: Stores, user: User, limit: int = 10) -> FeedPage:
        """A first for_you page without the ranking: the same session, taste
        read, writes (served list, seen marks, like read) and render, of
        ``limit`` pool posts taken at random. No ranker can beat it."""
        import random

        from feed.live.runtime import POOL_REFRESH_S, ready
        from feed.ranking import interest
        from feed.serving import sessions
        from feed.serving.for_you import Picked
        from feed.serving.stream import FeedStream
        from server.post_views import feed_views

        class Random:  # a source that picks without ranking; FeedStream does the rest as for the real page
            async def next(self, n: int) -> list[Picked]:
                start = random.randrange(0, max(1, len(rt.pool.table) - n))
                return [Picked(rt.pool.posts[pid], "random") for pid in rt.pool.table.ids[start : start + n]]

        rt = await ready(stores)
        await rt.pool.refresh(max_age=POOL_REFRESH_S)
        state = sessions.new(stores, user_id=user.id, kind="for_you", window=limit)
        await rt.viewers.viewer(user.id)
        async with stores.redis.pipeline(transaction=False) as pipe:  # the taste read a session opens with
            interest.load_commands(pipe, stores, user.id)
            await pipe.execute()
        served = await FeedStream(stores, state, Random()).top_up()
        liked = {s.post.id for s in served if s.liked}
        data = await feed_views(stores, rt, user.id, [s.post for s in served], liked=liked)
        return FeedPage(kind="for_you", data=data, next_cursor=f"{state.id}.{len(served)}")

    static: list = []

    @get(STATIC_PATH, dependencies=AUTH, signature_namespace={"User": User, "Stores": Stores, "FeedPage": FeedPage})
    async def page_static(stores: Stores, user: User, limit: int = 10) -> FeedPage:
        """The same ``limit`` rendered pool posts every time: what the signed-in
        user's token check and sending a page cost, with no feed work at all."""
        from feed.live.runtime import ready
        from server.post_views import feed_views

        if not static:
            rt = await ready(stores)
            posts = [rt.pool.posts[pid] for pid in rt.pool.table.ids[:limit]]
            static.extend(await feed_views(stores, rt, user.id, posts, liked=set()))
        return FeedPage(kind="for_you", data=static, next_cursor="x")

    @get(ROUND_TRIPS_PATH, dependencies=AUTH, signature_namespace={"User": User, "Stores": Stores, "FeedPage": FeedPage})
    async def round_trips(stores: Stores, user: User, n: int = 2, limit: int = 10) -> FeedPage:
        """The fixed page after ``n`` Redis round trips of three GETs each: what
        one round trip costs the api in the middle of a loaded event loop."""
        for _ in range(n):
            async with stores.redis.pipeline(transaction=False) as pipe:
                pipe.get(stores.key("bench", "a", user.id))
                pipe.get(stores.key("bench", "b", user.id))
                pipe.get(stores.key("bench", "c"))
                await pipe.execute()
        return await page_static.fn(stores, user, limit)

    @post(CATALOGUE_PATH, signature_namespace={"Stores": Stores})
    async def catalogue_switch(stores: Stores, on: bool) -> dict[str, bool]:
        """Let the for-you sessions use the catalogue index, or not (--index-ab)."""
        from feed.live.runtime import ready

        (await ready(stores)).catalogue.enabled = on
        return {"catalogue": on}

    snapshots: list = []

    @get(MEMORY_TOP_PATH)
    async def memory_top(n: int = 25) -> list[str]:
        """What the api allocated and still holds since the last call, by where
        (the api must run with PYTHONTRACEMALLOC set: --tracemalloc)."""
        import tracemalloc

        if not tracemalloc.is_tracing():
            return ["not tracing: start the api with PYTHONTRACEMALLOC=<frames>"]
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        before = snapshots[-1] if snapshots else None
        snapshots[:] = [snap]
        stats = snap.compare_to(before, "traceback") if before is not None else snap.statistics("traceback")
        out = []
        for stat in stats[:n]:
            where = " <- ".join(f"{f.filename.split('/site-packages/')[-1].replace(str(ROOT) + '/', '')}:{f.lineno}" for f in stat.traceback[:4])
            out.append(f"{getattr(stat, 'size_diff', stat.size) / 2**20:+.1f} MB ({getattr(stat, 'count_diff', stat.count):+d} blocks) {where}")
        return out

    mongo_ops = _count_mongo_ops()  # before the app's client exists: pymongo's listeners apply to clients made later

    @get(MONGO_OPS_PATH)
    async def mongo_ops_so_far() -> dict[str, int]:
        """The api's Mongo commands so far, by command and collection."""
        return dict(mongo_ops)

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="api")
    app = create_app(settings)
    app.register(mongo_ops_so_far)
    app.register(hello)
    app.register(floor)
    app.register(page_static)
    app.register(round_trips)
    app.register(catalogue_switch)
    app.register(memory_top)
    if os.environ.get("FABULA_BENCH_LAG"):
        app.on_startup.append(_watch_lag)
    return app


def _count_mongo_ops():
    """A Counter of the Mongo commands this process starts, by command name and
    collection, and of their microseconds from send to reply (keys starting
    with ``TIME_PREFIX``)."""
    from collections import Counter

    from pymongo import monitoring

    seen: Counter = Counter()
    running: dict[int, str] = {}

    class Listener(monitoring.CommandListener):
        def started(self, event) -> None:
            target = event.command.get(event.command_name)
            key = f"{event.command_name} {target if isinstance(target, str) else ''}".strip()
            seen[key] += 1
            running[event.request_id] = key

        def succeeded(self, event) -> None:
            key = running.pop(event.request_id, None)
            if key is not None:
                seen[TIME_PREFIX + key] += event.duration_micros

        def failed(self, event) -> None:
            running.pop(event.request_id, None)

    monitoring.register(Listener())
    return seen


async def _watch_lag(app) -> None:
    """(--lag) Log the event loop's lag and the GC's pauses every 5 s, to find where a tail comes from."""
    import gc
    import logging

    log = logging.getLogger("fabula.bench")
    lags: list[float] = []
    pauses: list[tuple[int, float]] = []
    _track_gc_pauses(pauses)
    slow = _time_steps() if os.environ.get("FABULA_BENCH_LAG") == "steps" else None
    full: list[float] = []

    def on_full(phase: str, info: dict) -> None:
        """Each full collection: how long, how many objects it walked, how many it freed."""
        if info["generation"] != 2:
            return
        if phase == "start":
            walked = len(gc.get_objects())  # counted before the clock starts
            full[:] = [time.perf_counter(), walked]
        elif full:
            log.warning("full collection %.1f ms: %d objects walked, %d freed, %d frozen",
                        1000 * (time.perf_counter() - full[0]), full[1], info["collected"], gc.get_freeze_count())
            full.clear()

    gc.callbacks.append(on_full)

    async def watch() -> None:
        last = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.002)
            lags.append(time.perf_counter() - t0 - 0.002)
            if time.perf_counter() - last >= 5:
                last = time.perf_counter()
                lags.sort()
                worst_gc = max((p for _, p in pauses), default=0.0)
                log.warning("lag p50 %.1f ms p99 %.1f ms max %.1f ms; gc pauses %d (gen2 %d), worst %.1f ms, all %.0f ms",
                            1000 * lags[len(lags) // 2], 1000 * lags[int(len(lags) * 0.99)], 1000 * lags[-1],
                            len(pauses), sum(1 for g, _ in pauses if g == 2), 1000 * worst_gc, 1000 * sum(p for _, p in pauses))
                lags.clear()
                pauses.clear()
                if slow:
                    log.warning("steps over %.0f ms: %s", 1000 * SLOW_STEP_S, slow.most_common(12))
                    slow.clear()
                if os.environ.get("FABULA_BENCH_LAG") == "types":
                    from collections import Counter

                    kinds = Counter(type(o).__name__ for o in gc.get_objects())
                    log.warning("gc-tracked objects %d (frozen %d): %s", sum(kinds.values()), gc.get_freeze_count(),
                                kinds.most_common(15))

    app.state.lag_task = asyncio.create_task(watch())


SLOW_STEP_S = 0.005


def _time_steps():
    """(FABULA_BENCH_LAG=steps) Time every step the event loop runs; a Counter of
    the steps over ``SLOW_STEP_S`` by where their coroutine started and where it
    stopped (the code between ran without yielding)."""
    from collections import Counter

    slow: Counter = Counter()
    run = asyncio.events.Handle._run

    def where(handle) -> str:
        task = getattr(handle._callback, "__self__", None)
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        frame = getattr(coro, "cr_frame", None)
        while frame is not None:  # the innermost coroutine awaited
            inner = getattr(coro, "cr_await", None)
            if getattr(inner, "cr_frame", None) is None:
                break
            coro, frame = inner, inner.cr_frame
        return f"{coro.__qualname__}:{frame.f_lineno}" if frame is not None else repr(handle._callback)[:60]

    def timed(handle) -> None:
        t0 = time.perf_counter()
        before = where(handle)
        run(handle)
        if time.perf_counter() - t0 > SLOW_STEP_S:
            slow[f"{before} -> {where(handle)}"] += 1

    asyncio.events.Handle._run = timed
    return slow


def api_command(port: int, workers: int = 1) -> list[str]:
    # the options cli/api.py passes to uvicorn.run
    from cli.http_protocol import HTTP_PROTOCOL, WS_PROTOCOL

    return [
        sys.executable, "-m", "uvicorn", "bench.feed:make_app", "--factory", "--app-dir", str(ROOT),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        # uvloop runs its steps in C: the steps timer needs asyncio's own loop
        "--loop", "asyncio" if os.environ.get("FABULA_BENCH_LAG") == "steps" else "uvloop", "--http", HTTP_PROTOCOL, "--ws", WS_PROTOCOL,
        "--lifespan", "on", "--no-access-log", "--timeout-graceful-shutdown", "5", "--ws-per-message-deflate", "false",
    ]


# --- seeding -------------------------------------------------------------------


async def seed(stores, *, users: int, follows: int, posts: int, rng: random.Random) -> list[str]:
    """Users, follows, tokens and posts; returns one bearer token per user."""
    from ulid import ULID

    from accounts.tokens import digest
    from core.ids import new_id
    from feed.ranking.embeddings import embed_async, post_text
    from feed.social.posts import Post, post_doc

    now = datetime.now(UTC)
    ids = [new_id("user") for _ in range(users)]
    following = {uid: rng.sample([u for u in ids if u != uid], follows) for uid in ids}
    followers: dict[str, int] = {uid: 0 for uid in ids}
    for targets in following.values():
        for t in targets:
            followers[t] += 1
    await stores.db.users.insert_many([
        {"_id": uid, "handle": f"bench{i}", "handle_lc": f"bench{i}", "password_hash": "-", "display_name": f"Bench {i}",
         "bio": "", "avatar_url": "", "followers": followers[uid], "following": follows, "created_at": now, "updated_at": now}
        for i, uid in enumerate(ids)
    ])
    await stores.db.follows.insert_many([
        {"_id": f"{a}:{b}", "follower": a, "followee": b, "k": str(ULID()), "created_at": now}
        for a, targets in following.items() for b in targets
    ])
    tokens = [f"fab_bench{uuid.uuid4().hex}" for _ in ids]
    await stores.db.tokens.insert_many([
        {"_id": digest(tok), "id": new_id("tok"), "user_id": uid, "created_at": now, "expires_at": now + timedelta(days=1)}
        for tok, uid in zip(tokens, ids)
    ])

    texts = [f"{s} {a} {p}" for s in SUBJECTS for a in ACTIONS for p in PLACES]
    rng.shuffle(texts)
    texts = texts[:360]
    started = time.perf_counter()
    vectors = dict(zip(texts, await embed_async([post_text(t, t) for t in texts])))
    print(f"seed: embedded {len(texts)} distinct captions in {time.perf_counter() - started:.1f}s", flush=True)
    # each post's embedding is its caption's plus a little noise (normalised): clustered on the
    # captions' topics, yet no two alike, as a catalogue's are (the catalogue index needs that)
    import numpy as np

    noise = np.random.default_rng(rng.randint(0, 2**31))
    base = {t: np.asarray(v, dtype=np.float32) for t, v in vectors.items()}
    started = time.perf_counter()
    docs = []
    for n in range(posts):
        created = now - timedelta(seconds=rng.uniform(0, 7 * 24 * 3600))
        text = rng.choice(texts)
        vec = base[text] + noise.standard_normal(384).astype(np.float32) * 0.02
        post = Post(
            id="post_" + str(ULID.from_timestamp(created.timestamp())).lower(),
            author_id=rng.choice(ids), video_id=f"video_{str(ULID()).lower()}", caption=text, created_at=created,
            prompt=text, embedding=(vec / np.linalg.norm(vec)).tolist(),
        )
        doc = post_doc(post)  # as the api writes it
        views = int(rng.paretovariate(1.2) * 5) if rng.random() < 0.8 else 0
        doc.update(views=views, likes=int(views * rng.uniform(0, 0.2)), completes=int(views * rng.uniform(0, 0.6)),
                   watch_ms=views * rng.randint(1000, 9000), shares=int(views * rng.uniform(0, 0.02)))
        docs.append(doc)
        if len(docs) == 1000 or n == posts - 1:  # bulk-loaded a thousand at a time, not through the api
            await stores.db["posts"].insert_many(docs)
            docs = []
            if (n + 1) % 50_000 == 0:
                print(f"seed: {n + 1} posts in {time.perf_counter() - started:.0f}s", flush=True)
    return tokens


# --- swipers -------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # when each of ``latencies`` was answered (perf_counter)
    events: int = 0
    counts: int = 0  # feed.counts messages ...
    count_updates: int = 0  # ... and the posts' counts they carried
    errors: int = 0
    exhausted: int = 0
    measuring: bool = False


async def swiper(url: str, token: str, stats: Stats, stop: asyncio.Event, opened: asyncio.Semaphore, ready: list, *, window: int, dwell_s: float, rng: random.Random) -> None:
    import websockets

    async with opened:  # open sessions a few at a time
        ws = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=120, max_size=2**22)
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "feed.open", "data": {"kind": "for_you", "window": window}}))
        items: dict[int, str] = {}
        sid = None
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "feed.session":
                sid = msg["data"]["session_id"]
            elif msg["type"] == "feed.items":
                items.update({i["index"]: i["id"] for i in msg["data"]["items"]})
                if msg["data"]["cursor"] >= window or msg["data"]["exhausted"]:
                    break
    ready.append(1)
    waiting: dict[int, tuple[float, asyncio.Future]] = {}

    async def reader() -> None:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg["type"]
            if kind == "feed.items":
                got = time.perf_counter()
                for item in msg["data"]["items"]:
                    items[item["index"]] = item["id"]
                    pending = waiting.pop(item["index"], None)
                    if pending is not None:
                        if stats.measuring:
                            stats.latencies.append(got - pending[0])
                            stats.answered.append(got)
                        pending[1].set_result(None)
                if msg["data"]["exhausted"]:
                    stats.exhausted += 1
            elif kind == "feed.counts":
                stats.counts += 1
                stats.count_updates += len(msg["data"]["posts"])
            elif kind == "error":
                stats.errors += 1

    task = asyncio.create_task(reader())
    pos = 0
    loop = asyncio.get_running_loop()

    async def send_event(post_id: str, event: str, **extra) -> None:
        await ws.send(json.dumps({"type": "feed.event", "data": {"session_id": sid, "post_id": post_id, "event": event, **extra}}))
        stats.events += stats.measuring

    try:
        while not stop.is_set():
            if pos not in items:
                break  # the feed ran dry
            post_id = items[pos]
            # the item comes on screen: its impression asks for one more item at the end of the window
            fut = loop.create_future()
            waiting[pos + window] = (time.perf_counter(), fut)
            await send_event(post_id, "impression")
            try:
                await asyncio.wait_for(fut, 30)
            except TimeoutError:
                stats.errors += 1
                break
            dwell = dwell_s * rng.uniform(0.5, 1.5)
            if rng.random() < 0.1:
                await asyncio.sleep(dwell / 2)
                await send_event(post_id, "like")
                dwell /= 2
            await asyncio.sleep(dwell)
            r = rng.random()  # leaving it: how it was watched
            event = "view" if r < 0.6 else "skip" if r < 0.85 else "complete"
            await send_event(post_id, event, watch_ms=rng.randint(300, 1500) if event == "skip" else rng.randint(1500, 9000))
            pos += 1
    finally:
        task.cancel()
        await ws.close()


def cpu_seconds(pids: dict[str, int | list[int]]) -> dict[str, float]:
    """CPU seconds so far of each named process (or processes: their sum)."""
    import psutil

    out = {}
    for name, found in pids.items():
        out[name] = 0.0
        for pid in found if isinstance(found, list) else [found]:
            try:
                proc = psutil.Process(pid)
                # uvicorn --workers N: the workers are the api's children (this process's children are the servers)
                for p in [proc, *(proc.children(recursive=True) if name == "api" else [])]:
                    t = p.cpu_times()
                    out[name] += t.user + t.system
            except psutil.Error:
                pass
    return out


async def swipe_phase(url: str, tokens: list[str], n: int, pids: dict[str, int], *, window: int, dwell_s: float, duration: float, seed_: int,
                      api_url: str | None = None, memory_every: float = 0.0, on_sample=None, metrics_url: str | None = None,
                      window_s: float = 30.0) -> dict:
    """``n`` swipers for ``duration`` measured seconds (and, with ``api_url``, the api's Mongo commands per second meanwhile;
    with ``metrics_url``, the api's shortlist builds per ``window_s``, the width of the windows its p99 is also given by)."""
    stats = Stats()
    stop = asyncio.Event()
    opened = asyncio.Semaphore(16)
    ready: list = []
    rng = random.Random(seed_)
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(swiper(url, tokens[i % len(tokens)], stats, stop, opened, ready, window=window, dwell_s=dwell_s, rng=random.Random(rng.random())))
        for i in range(n)
    ]
    while len(ready) < n:
        if any(t.done() and t.exception() for t in tasks):
            raise next(t.exception() for t in tasks if t.done() and t.exception())
        await asyncio.sleep(0.1)
    open_s = time.perf_counter() - started
    await asyncio.sleep(min(3.0, dwell_s * 2))  # settle into the rhythm
    ops = await mongo_ops(api_url) if api_url else {}
    before, t0 = cpu_seconds(pids), time.perf_counter()
    stats.measuring = True
    pauses: list[tuple[int, float]] = []
    untrack = _track_gc_pauses(pauses)  # this process's: they would count as latency
    rss: list[tuple[float, float]] = []  # (seconds into the phase, api RSS MB), with memory_every
    split: list[tuple[float, float]] = []  # beside each RSS sample: (anonymous, file-backed) MB of it
    kinds: list[dict[str, float]] = []  # beside each RSS sample: the anonymous part by where it lies
    kept: list[float] = []  # beside each RSS sample: the catalogue's rows kept (a bounded cache that fills during the phase)
    window_builds: list[dict[str, float]] = []
    counting = asyncio.create_task(builds_by_window(metrics_url, t0 + duration, window_s, window_builds)) if metrics_url else None
    try:
        if memory_every > 0:
            end = t0 + duration
            while (left := end - time.perf_counter()) > 0:
                sample(pids["api"], t0, rss, split, kinds)
                if metrics_url:
                    kept.append((await page_sources(metrics_url)).get("catalogue kept", 0.0))
                if on_sample is not None:
                    await on_sample()
                await asyncio.sleep(min(memory_every, left))
            sample(pids["api"], t0, rss, split, kinds)
            if metrics_url:
                kept.append((await page_sources(metrics_url)).get("catalogue kept", 0.0))
        else:
            await asyncio.sleep(duration)
    finally:
        untrack()
        if counting is not None:
            await counting
    stats.measuring = False
    if api_url:
        ops = {k: (v - ops.get(k, 0)) / duration for k, v in (await mongo_ops(api_url)).items() if v > ops.get(k, 0)}
    wall = time.perf_counter() - t0
    after = cpu_seconds(pids)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted(stats.latencies)
    windows = window_p99s(stats.answered, stats.latencies, t0, window_s)

    def pct(p: float) -> float:
        return nearest_rank(lat, p) * 1000 if lat else float("nan")

    return {
        "swipers": n, "open_s": open_s, "wall_s": wall, "moves": len(lat), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        "max_ms": lat[-1] * 1000 if lat else float("nan"), "events_per_s": stats.events / wall,
        "counts_msgs": stats.counts, "count_updates": stats.count_updates, "errors": stats.errors, "exhausted": stats.exhausted,
        "cpu": {k: 100 * (after[k] - before[k]) / wall for k in pids}, "gc_worst_ms": 1000 * max((p for _, p in pauses), default=0.0),
        "mongo_per_s": ops, "rss": rss, "rss_split": split, "anonymous_kinds": kinds, "catalogue_kept": kept, "window_p99_ms": windows, "window_builds": window_builds,
    }


async def builds_by_window(url: str, end: float, width_s: float, out: list[dict[str, float]]) -> None:
    """Append the api's shortlist builds by reason in each ``width_s`` until
    ``end`` (``perf_counter``) to ``out``: whether the phase's tail comes with
    bursts of rebuilds."""
    last, start, i = await page_sources(url), time.perf_counter(), 0
    while end - time.perf_counter() > 0:
        i += 1
        await asyncio.sleep(max(0.0, min(start + i * width_s, end) - time.perf_counter()))  # on the windows' edges, not drifting
        now = await page_sources(url)
        out.append({name[6:]: v - last.get(name, 0) for name, v in now.items() if name.startswith("build ") and v > last.get(name, 0)})
        last = now


def nearest_rank(ordered: list[float], p: float) -> float:
    """The value at quantile ``p`` of ``ordered`` (sorted, not empty)."""
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def window_p99s(answered: list[float], latencies: list[float], t0: float, width_s: float) -> list[tuple[float, int, float]]:
    """(window start in seconds into the phase, moves, p99 ms) per ``width_s``
    of the phase, by when each move was answered."""
    by: dict[int, list[float]] = {}
    for at, lat in zip(answered, latencies):
        by.setdefault(max(0, int((at - t0) // width_s)), []).append(lat)
    out = []
    for i in sorted(by):
        out.append((i * width_s, len(by[i]), nearest_rank(sorted(by[i]), 0.99) * 1000))
    return out


def _track_gc_pauses(pauses: list[tuple[int, float]]):
    """From now on, append (generation, seconds) of each of this process's
    collections to ``pauses``; returns the function that stops it."""
    import gc

    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((info["generation"], time.perf_counter() - started.pop()))

    gc.callbacks.append(on_gc)
    return lambda: gc.callbacks.remove(on_gc)


# --- wrk -------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    socket_errors: str
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core per process over the round
    pages: tuple[int, int] | None = None  # the scrolling round's first and next pages

    @property
    def api_ms(self) -> float:
        """The api's CPU time per request: what its throughput is bound by while it runs at ~100%."""
        return self.ms("api")

    def ms(self, process: str) -> float:
        """A process's CPU time per request (0 for one that did not run)."""
        return 10 * self.cpu.get(process, 0.0) / self.rps if self.rps else float("nan")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def first_pages(url: str, tokens: list[str], limit: int, concurrency: int = 16) -> float:
    """Every user's first for_you page once (so what wrk measures next is the
    steady state of users active in the last hour); returns pages/s."""
    import httpx

    queue = list(tokens)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def worker() -> None:
            while queue:
                token = queue.pop()
                r = await http.get("/v1/feed", params={"kind": "for_you", "limit": limit}, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text[:300]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(tokens) / (time.perf_counter() - started)


def _tokens_lua(tokens: list[str]) -> str:
    """The Lua table of the users' bearer tokens that both wrk scripts rotate."""
    return "tokens = {\n" + ",\n".join(f'"{t}"' for t in tokens) + "\n}\n"


def write_lua(path: Path, tokens: list[str]) -> None:
    path.write_text(
        _tokens_lua(tokens) +
        "counter = 0\n"
        "function setup(thread) thread:set(\"start\", math.random(1, #tokens)) end\n"
        "function init(args) counter = start or 0 end\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        "  return wrk.format(\"GET\", nil, {[\"Authorization\"] = \"Bearer \" .. tokens[(counter % #tokens) + 1]})\n"
        "end\n"
    )


def write_scroll_lua(path: Path, tokens: list[str], pages: int) -> None:
    """A wrk script for users scrolling the HTTP feed: a first page, then the
    next ``pages - 1`` pages by each page's ``next_cursor``, then the next user.
    wrk keeps one Lua state per thread, so this needs one connection per thread
    (``-t`` = ``-c``): each response then belongs to the thread's last request."""
    path.write_text(
        _tokens_lua(tokens) +
        f"pages = {pages}\n"
        "counter = 0\nleft = 0\ncursor = nil\ntoken = nil\nfirsts = 0\nnexts = 0\nthreads = {}\n"
        "function setup(thread)\n"
        "  thread:set(\"start\", math.random(1, #tokens))\n"
        "  table.insert(threads, thread)\n"
        "end\n"
        "function init(args) counter = start or 0 end\n"
        "request = function()\n"
        "  local path = wrk.path\n"
        "  if cursor ~= nil and left > 0 then\n"
        "    path = path .. \"&cursor=\" .. cursor\n"
        "    left = left - 1\n"
        "    nexts = nexts + 1\n"
        "  else\n"
        "    firsts = firsts + 1\n"
        "    counter = counter + 1\n"
        "    token = tokens[(counter % #tokens) + 1]\n"
        "    left = pages - 1\n"
        "  end\n"
        "  cursor = nil\n"
        "  return wrk.format(\"GET\", path, {[\"Authorization\"] = \"Bearer \" .. token})\n"
        "end\n"
        "response = function(status, headers, body)\n"
        "  if status == 200 then cursor = string.match(body, '\"next_cursor\":\"([^\"]+)\"') end\n"
        "end\n"
        "function done(summary, latency, requests)\n"
        "  local f, n = 0, 0\n"
        "  for _, t in ipairs(threads) do f = f + t:get(\"firsts\"); n = n + t:get(\"nexts\") end\n"
        "  io.write(string.format(\"scroll: %d first pages, %d next pages\\n\", f, n))\n"
        "end\n"
    )


def run_wrk(url: str, duration: int, connections: int, threads: int, script: Path | None = None) -> WrkResult:
    cmd = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    proc = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=duration + 60, check=False)
    text = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or text}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", text, re.MULTILINE).group(1)),
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", text, re.MULTILINE).group(1)),
        requests=int(re.search(r"(\d+) requests in", text).group(1)),
        bad=int(bad.group(1)) if bad else 0,
        socket_errors=errors.group(1).strip() if errors else "",
        pages=(int(scroll.group(1)), int(scroll.group(2))) if (scroll := re.search(r"scroll: (\d+) first pages, (\d+) next pages", text)) else None,
    )


# --- the run -------------------------------------------------------------------------


def start_builders(n: int, env: dict[str, str], log_dir: Path, nice: int = 19, index: bool = True) -> list[subprocess.Popen]:
    """``n`` opening builders (``fabula feed-builder``), as ``fabula dev`` runs one."""
    procs = []
    for i in range(n):
        with open(log_dir / f"builder-{i + 1}.log", "wb") as handle:
            extra = ["--no-index"] if i or not index else []  # one builder writes the catalogue index
            procs.append(subprocess.Popen([sys.executable, "-m", "cli.main", "feed-builder", "--nice", str(nice), *extra], env=env, cwd=ROOT,
                                          stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True))
    return procs


async def openings_settled(stores, timeout: float = 120.0) -> tuple[float, int]:
    """Wait until no opening is asked for; returns (seconds waited, openings kept)."""
    from feed.serving import openings

    started = time.perf_counter()
    while time.perf_counter() - started < timeout and await stores.redis.zcard(openings.wanted_key(stores)):
        await asyncio.sleep(0.1)
    kept = 0
    async for _ in stores.redis.scan_iter(match=openings.items_key(stores, "*"), count=1000):
        kept += 1
    return time.perf_counter() - started, kept


def _ops_line(ops: dict[str, float], per: float, top: int) -> str:
    """The ``top`` most frequent Mongo commands in ``ops`` (a difference of two
    counters), each as count / ``per`` and its mean time from send to reply."""
    counts = sorted(((k, v) for k, v in ops.items() if not k.startswith(TIME_PREFIX)), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v / per:.2f} ({ops.get(TIME_PREFIX + k, 0) / v / 1000:.1f} ms)" for k, v in counts)


async def mongo_ops(url: str) -> dict[str, int]:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return (await http.get(MONGO_OPS_PATH)).json()


async def page_sources(url: str) -> dict[str, float]:
    """The api's for_you pages so far by source (its ``fabula_feed_pages_total``
    metric), and its misses of openings by reason as ``miss <reason>``
    (``fabula_feed_opening_misses_total``)."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        text = (await http.get("/metrics")).text
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r'^fabula_feed_pages_total\{source="(\w+)"\} (\S+)$', text, re.MULTILINE)}
    for m in re.finditer(r'^fabula_feed_opening_misses_total\{reason="(\w+)"\} (\S+)$', text, re.MULTILINE):
        found[f"miss {m.group(1)}"] = float(m.group(2))
    for m in re.finditer(r'^fabula_feed_shortlist_builds_total\{reason="([^"]+)"\} (\S+)$', text, re.MULTILINE):
        found[f"build {m.group(1)}"] = float(m.group(2))
    for m in re.finditer(r'^fabula_feed_catalogue_posts_named_total\{state="(\w+)"\} (\S+)$', text, re.MULTILINE):
        found[f"catalogue {m.group(1)}"] = float(m.group(2))
    for m in re.finditer(r'^fabula_feed_catalogue_posts_read_total (\S+)$', text, re.MULTILINE):
        found["catalogue read"] = float(m.group(1))
    for m in re.finditer(r'^fabula_feed_catalogue_rows_kept (\S+)$', text, re.MULTILINE):
        found["catalogue kept"] = float(m.group(1))
    for m in re.finditer(r'^fabula_heap_trim_seconds_(count|sum) (\S+)$', text, re.MULTILINE):
        found[f"trim {m.group(1)}"] = float(m.group(2))
    for m in re.finditer(r'^fabula_heap_trim_seconds_bucket\{le="0\.01"\} (\S+)$', text, re.MULTILINE):
        found["trim under 10ms"] = float(m.group(1))
    for m in re.finditer(r'^fabula_heap_trim_longest_seconds (\S+)$', text, re.MULTILINE):
        found["trim longest"] = float(m.group(1))
    return found


def start_api(env: dict[str, str], log_path: Path, timeout: float = 120.0, workers: int = 1) -> tuple[subprocess.Popen, str]:
    import httpx

    from core.embedded import free_port

    port = free_port()
    with open(log_path, "wb") as handle:
        proc = subprocess.Popen(api_command(port, workers), env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=handle,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError("api not ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swipers", default="50,200,500", help="comma-separated swiper counts (default 50,200,500)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per swiper count")
    parser.add_argument("--dwell-ms", type=float, default=3000.0, help="mean time on an item (default 3000)")
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--window-s", type=float, default=30.0,
                        help="the width of the windows the phase's p99 and the api's shortlist builds are also printed by (where in the phase the tail came)")
    parser.add_argument("--posts", default="10000",
                        help="posts seeded; comma-separated sizes (e.g. 10000,100000) run one after another in this invocation,"
                             " each on fresh servers, and end with a table of the sizes against the first")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--follows", type=int, default=10, help="people each user follows")
    parser.add_argument("--wrk-duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scroll-pages", default="1,5",
                        help="pages per user in each scrolling round (a first page, then next_cursor), comma-separated; empty skips them")
    parser.add_argument("--round-trips", default="",
                        help="Redis round trips before the fixed page, one round each (e.g. 0,2,6); empty skips them")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=10, help="page size of GET /v1/feed")
    parser.add_argument("--log-level", default="INFO", help="FABULA_LOG_LEVEL of the api (INFO: one JSON line per request)")
    parser.add_argument("--skip-wrk", action="store_true")
    parser.add_argument("--mongo-ops", action="store_true", help="print the api's Mongo commands per request of each wrk round (per second in the swipe phases)")
    parser.add_argument("--lag", action="store_true", help="log the api's event-loop lag and GC pauses every 5 s (see --keep-log)")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes of the api (default 1)")
    parser.add_argument("--builders", type=int, default=1,
                        help="opening builders beside the api (default 1, as fabula dev runs; 0: every page is ranked in the api)")
    parser.add_argument("--builder-nice", type=int, default=19, help="the builders' --nice (default 19, as fabula dev runs them)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-every", type=float, default=0.0, metavar="S",
                        help="sample the api's RSS every S seconds of each measured phase and print its growth (with a long --duration)")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                        help="trace the api's allocations (FRAMES deep; slow) and, with --memory-every, print at each sample"
                             " what it allocated and still holds since the one before, by where")
    parser.add_argument("--index-ab", type=int, default=0, metavar="PAIRS",
                        help="for each swiper count, PAIRS pairs of phases with the catalogue index used and not used by the"
                             " same api (alternating order), and the ratios (one api worker)")
    parser.add_argument("--no-index", action="store_true", help="no catalogue index: the similar source reads the api's pool alone")
    parser.add_argument("--index-timeout", type=float, default=900.0, help="seconds to wait for the builder's catalogue index before measuring")
    parser.add_argument("--keep-log", metavar="FILE", help="copy the api's log here at the end")
    parser.add_argument("--redis-max-connections", type=int, default=1000,
                        help="?max_connections= on the api's Redis URL: redis-py's default pool (100) raises"
                             " 'Too many connections' under a few hundred busy sockets (0: leave the URL alone)")
    args = parser.parse_args()
    if args.index_ab and (args.no_index or args.api_workers != 1):
        parser.error("--index-ab switches the catalogue of one api process: no --no-index, one --api-workers")

    have_wrk = shutil.which("wrk") is not None
    if not have_wrk and not args.skip_wrk:
        print("wrk is not installed: the HTTP part of this benchmark needs it (Debian: apt-get install -y wrk);"
              " pass --skip-wrk to run the swipers alone.", file=sys.stderr)
        return 2
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        return asyncio.run(run(args))
    except asyncio.CancelledError:  # SIGTERM (``run``): the servers were stopped on the way out
        print("stopped by SIGTERM", file=sys.stderr, flush=True)
        return 128 + signal.SIGTERM


async def run(args) -> int:
    # SIGTERM (a ``timeout``, a killed job) cancels the run, so each phase's
    # ``finally`` stops its api, builders and servers instead of leaving them running
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    sizes = [int(n) for n in str(args.posts).replace("_", "").split(",") if n.strip()]
    results = []
    for size in sizes:
        print(f"=== {size} posts ===", flush=True)
        results.append(await run_one(args, size))
    if len(sizes) > 1:
        print_scale(results)
    return 0


def api_memory(pid: int) -> dict[str, float]:
    """The api's memory in MB: RSS, PSS (shared pages split among the processes that map them) and USS (its own)."""
    import psutil

    info = psutil.Process(pid).memory_full_info()
    return {"rss": info.rss / 2**20, "pss": getattr(info, "pss", 0) / 2**20, "uss": info.uss / 2**20}


ARENA_ALIGN = 64 << 20  # glibc's thread heaps are mapped 64 MiB-aligned (HEAP_MAX_SIZE on 64-bit)


def anonymous_kinds(pid: int) -> dict[str, float]:
    """The api's anonymous resident memory (MB) by where it lies, from its
    ``/proc/PID/smaps`` (psutil's ``memory_maps``): ``heap`` (the main arena, grown by brk), ``arenas``
    (glibc's per-thread heaps: mappings that start on a 64 MiB boundary),
    ``large`` (other anonymous mappings of 1 MiB or more: Python's object
    arenas, which it maps 1 MiB at a time, and the big blocks numpy and the
    native libraries have malloc map on their own) and ``small`` (the rest:
    thread stacks, small maps)."""
    import psutil

    kinds = {"heap": 0.0, "arenas": 0.0, "large": 0.0, "small": 0.0}
    try:
        maps = psutil.Process(pid).memory_maps(grouped=False)
    except (psutil.Error, OSError):
        return kinds
    for region in maps:
        mb = region.anonymous / 2**20
        if region.path == "[heap]":
            kinds["heap"] += mb
        elif region.path != "[anon]":
            continue  # a file's private copies, [stack], [vvar]
        elif int(region.addr.split("-")[0], 16) % ARENA_ALIGN == 0:
            kinds["arenas"] += mb
        elif region.size >= 1 << 20:
            kinds["large"] += mb
        else:
            kinds["small"] += mb
    return kinds


def sample(pid: int, t0: float, rss: list[tuple[float, float]], split: list[tuple[float, float]],
           kinds: list[dict[str, float]] | None = None) -> None:
    """Append the api's RSS (MB, at seconds since ``t0``) to ``rss`` and its
    anonymous and file-backed parts to ``split``: a memory-mapped file's pages
    (the catalogue index) count in RSS once touched, but they are the page
    cache's, shared and reclaimable, not the heap's."""
    import psutil

    info = psutil.Process(pid).memory_info()
    rss.append((time.perf_counter() - t0, info.rss / 2**20))
    split.append(((info.rss - info.shared) / 2**20, info.shared / 2**20))
    if kinds is not None:
        kinds.append(anonymous_kinds(pid))


async def index_ready(index_dir: Path, posts: int, builder: subprocess.Popen, timeout: float) -> float | None:
    """Wait until the builder has written a catalogue index holding every post; seconds waited (None: not in time)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout and builder.poll() is None:
        try:
            if json.loads((index_dir / "current.json").read_text())["count"] >= posts:
                return time.perf_counter() - started
        except (OSError, ValueError, KeyError):
            pass
        await asyncio.sleep(0.5)
    return None


def print_scale(results: list[dict]) -> None:
    base = results[0]
    print()
    print(f"catalogue scale (ratios against {base['posts']} posts, same run)")
    print(f"{'posts':>9} {'p50 ms':>7} {'p99 ms':>7} {'p99 ×':>6} {'events/s':>9} {'api ms/event':>12} {'for_you/s':>9} {'×':>5}"
          f" {'api RSS MB':>10} {'PSS MB':>7} {'builder ms/opening':>18} {'index s':>8}")
    for r in results:
        p99x = r["p99_ms"] / base["p99_ms"] if base.get("p99_ms") else float("nan")
        rpsx = r["for_you_rps"] / base["for_you_rps"] if base.get("for_you_rps") else float("nan")
        print(f"{r['posts']:9} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {p99x:6.2f} {r['events_per_s']:9.0f} {r['api_ms_per_event']:12.2f}"
              f" {r['for_you_rps']:9.0f} {rpsx:5.2f} {r['memory']['rss']:10.0f} {r['memory']['pss']:7.0f} {r['builder_ms_per_opening']:18.2f}"
              f" {r['index_s'] if r['index_s'] is not None else float('nan'):8.1f}")


async def run_one(args, posts: int) -> dict:
    from core.embedded import EmbeddedServices
    from core.settings import Settings
    from core.stores import open_stores

    rng = random.Random(args.seed)
    nan = float("nan")
    scale: dict = {"posts": posts, "index_s": None, "builder_ms_per_opening": nan, "for_you_rps": nan, "memory": {"rss": nan, "pss": nan, "uss": nan}}
    counts = [int(n) for n in args.swipers.split(",") if n.strip()]
    scroll_pages = [int(n) for n in args.scroll_pages.split(",") if n.strip()]
    round_trips = [int(n) for n in args.round_trips.split(",") if n.strip()]
    with tempfile.TemporaryDirectory(prefix="fabula-bench-feed-") as tmp:
        tmp_path = Path(tmp)
        services = EmbeddedServices.start(tmp_path / "services")
        api, stores, builders = None, None, []
        try:
            namespace = "bench" + uuid.uuid4().hex[:8]
            settings = Settings(mongo_url=services.mongo_url, redis_url=services.redis_url, namespace=namespace, data_dir=tmp_path / "data")
            stores = open_stores(settings)
            import server.indexes

            await server.indexes.ensure_all(stores)
            started = time.perf_counter()
            tokens = await seed(stores, users=args.users, follows=args.follows, posts=posts, rng=rng)
            print(f"seed: {args.users} users (each following {args.follows}), {posts} posts in {time.perf_counter() - started:.1f}s", flush=True)

            env = dict(os.environ)
            redis_url = services.redis_url + (f"?max_connections={args.redis_max_connections}" if args.redis_max_connections else "")
            # one BLAS thread: OpenBLAS's worker threads spin on a small shared machine and made
            # the pool's 5000x384 matrix-vector product several times slower (see docs/PERFORMANCE.md)
            env.setdefault("OPENBLAS_NUM_THREADS", "1")
            if args.lag:
                env.setdefault("FABULA_BENCH_LAG", "1")
            if args.tracemalloc:
                env["PYTHONTRACEMALLOC"] = str(args.tracemalloc)
            env.update(FABULA_MONGO_URL=services.mongo_url, FABULA_REDIS_URL=redis_url, FABULA_NAMESPACE=namespace,
                       FABULA_DATA_DIR=str(tmp_path / "data"), FABULA_LOG_LEVEL=args.log_level, FABULA_LOG_JSON="true",
                       FABULA_METRICS_PUBLIC="true")
            api, url = start_api(env, tmp_path / "api.log", workers=args.api_workers)
            builders = start_builders(args.builders, env, tmp_path, args.builder_nice, index=not args.no_index)
            from feed.ranking import ann

            if builders and not args.no_index:
                scale["index_s"] = await index_ready(ann.index_dir(tmp_path / "data", namespace), posts, builders[0], args.index_timeout)
                print(f"catalogue index: {posts} posts written by the builder {scale['index_s']}s after it started", flush=True)
            import httpx

            async with httpx.AsyncClient(base_url=url, timeout=120) as http:  # waits for the pool's first load
                r = await http.get("/v1/feed", params={"kind": "for_you"}, headers={"Authorization": f"Bearer {tokens[-1]}"})
                assert r.status_code == 200 and r.json()["data"], r.text[:300]
            pids = {"api": api.pid, "nx-27017": services.mongo.proc.pid, "valkey": services.valkey.proc.pid, "load generator": os.getpid(),
                    "builder": [b.pid for b in builders]}
            print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; api: uvicorn, {args.api_workers} worker(s); swipers: window"
                  f" {args.window}, mean dwell {args.dwell_ms:.0f} ms; all processes share the machine", flush=True)
            ws_url = url.replace("http://", "ws://") + "/v1/ws"

            tally: dict[str, list[WrkResult]] = {}
            if not args.skip_wrk:
                cold_cpu = cpu_seconds(pids)["builder"]  # the openings built for the cold pages count too
                cold = await first_pages(url, tokens, args.limit)
                print(f"cold first pages (every user once, 16 at a time: graph read from Mongo, taste and seen sets empty): "
                      f"{cold:.0f} req/s", flush=True)
                if builders:
                    before = cpu_seconds(pids)["builder"]
                    waited, kept = await openings_settled(stores)
                    spent = cpu_seconds(pids)["builder"] - before
                    print(f"openings: {kept} kept; the builders caught up {waited:.1f}s after the cold pages"
                          f" ({spent:.1f} CPU s in that time)", flush=True)
                    scale["builder_ms_per_opening"] = 1000 * (cpu_seconds(pids)["builder"] - cold_cpu) / kept if kept else float("nan")
                script = tmp_path / "tokens.lua"
                write_lua(script, tokens)
                paths = [("GET /healthz", "/healthz", None, args.threads), (HELLO_NAME, HELLO_PATH, script, args.threads),
                         (f"GET /v1/feed?kind=for_you&limit={args.limit}", f"/v1/feed?kind=for_you&limit={args.limit}", script, args.threads),
                         (FLOOR_NAME, f"{FLOOR_PATH}?limit={args.limit}", script, args.threads),
                         (STATIC_NAME, f"{STATIC_PATH}?limit={args.limit}", script, args.threads)]
                paths += [(TRIPS_NAME.format(n=n), f"{ROUND_TRIPS_PATH}?n={n}&limit={args.limit}", script, args.threads) for n in round_trips]
                for pages in scroll_pages:  # a scrolling client follows its own cursors: one connection per wrk thread
                    scroll = tmp_path / f"scroll{pages}.lua"
                    write_scroll_lua(scroll, tokens, pages)
                    paths.append((SCROLL_NAME.format(pages=pages), f"/v1/feed?kind=for_you&limit={args.limit}", scroll, args.connections))
                run_wrk(url + "/healthz", 2, args.connections, args.threads)  # warm-up
                for round_no in range(1, args.rounds + 1):
                    order = paths if round_no % 2 else paths[::-1]
                    for name, path, lua, threads in order:
                        sources, ops = await page_sources(url), await mongo_ops(url)
                        before, t0 = cpu_seconds(pids), time.perf_counter()
                        result = run_wrk(url + path, args.wrk_duration, args.connections, threads, lua)
                        wall, after = time.perf_counter() - t0, cpu_seconds(pids)
                        sources = {k: v - sources.get(k, 0) for k, v in (await page_sources(url)).items()}
                        ops = {k: v - ops.get(k, 0) for k, v in (await mongo_ops(url)).items() if v > ops.get(k, 0)}
                        result.cpu = {k: 100 * (after[k] - before[k]) / wall for k in pids if k != "load generator"}
                        tally.setdefault(name, []).append(result)
                        flag = f"  non-2xx {result.bad}" if result.bad else ""
                        if result.requests and args.mongo_ops:
                            flag += "  (Mongo per request: " + _ops_line(ops, result.requests, 4) + ")"
                        pages = sources.get("opening", 0) + sources.get("ranked", 0)
                        if pages:
                            misses = ", ".join(f"{k[5:]} {v / pages:.0%}" for k, v in sources.items() if k.startswith("miss ") and v)
                            flag += f"  ({sources.get('opening', 0) / pages:.0%} of pages from openings{'; missed: ' + misses if misses else ''})"
                        if result.pages:
                            flag += f"  ({result.pages[0]} first pages, {result.pages[1]} next pages)"
                        print(f"round {round_no} {name:36} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms"
                              f"  | api {result.cpu['api']:3.0f}% = {result.api_ms:.2f} ms CPU/request, nx-27017 {result.cpu['nx-27017']:3.0f}%,"
                              f" valkey {result.cpu['valkey']:3.0f}%, builder {result.cpu['builder']:3.0f}% ="
                              f" {result.ms('builder'):.2f} ms{flag}", flush=True)
            phases = []
            scale["memory_before"] = api_memory(api.pid)
            print(f"api memory before the swipers: RSS {scale['memory_before']['rss']:.0f} MB, PSS {scale['memory_before']['pss']:.0f} MB", flush=True)
            if counts:
                # the load generator's own GC pauses would count as the server's latency:
                # collect rarely here (in 20 s of 500 swipers, no collection at all; young
                # collections on a clock, as the api runs them, paused it up to 14 ms)
                import gc

                gc.collect()
                gc.freeze()
                gc.set_threshold(20_000, 20, 50)
            async def memory_top() -> None:
                async with httpx.AsyncClient(base_url=url, timeout=300) as http:
                    lines = (await http.get(MEMORY_TOP_PATH, params={"n": 12})).json()
                print("    api memory held since the last sample, by where:\n      " + "\n      ".join(lines), flush=True)

            plan = [(n, None) for n in counts]
            if args.index_ab:  # pairs of phases, catalogue on and off, in alternating order, after a warm-up phase not counted
                plan = [(max(counts), "warm-up")] + [
                    (n, on) for n in counts for pair in range(args.index_ab) for on in ((True, False) if pair % 2 == 0 else (False, True))]
            for n, on in plan:
                if isinstance(on, bool):
                    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                        assert (await http.post(CATALOGUE_PATH, params={"on": str(on).lower()})).status_code == 201
                builds = await page_sources(url)
                result = await swipe_phase(ws_url, tokens, n, pids, window=args.window, dwell_s=args.dwell_ms / 1000,
                                           duration=args.duration, seed_=rng.randint(0, 2**31), api_url=url if args.mongo_ops else None,
                                           memory_every=args.memory_every, on_sample=memory_top if args.tracemalloc else None,
                                           metrics_url=url, window_s=args.window_s)
                later = await page_sources(url)
                grew = {k: v - builds.get(k, 0) for k, v in later.items() if v > builds.get(k, 0)}
                builds = {k[6:]: v for k, v in grew.items() if k.startswith("build ")}
                named = grew.get("catalogue at_hand", 0) + grew.get("catalogue to_read", 0)
                result["catalogue"] = on
                phases.append(result)
                if on is not None:
                    print("warm-up (not counted) " if on == "warm-up" else f"catalogue {'on ' if on else 'off'} ", end="")
                cpu = ", ".join(f"{k} {v:.0f}%" for k, v in result["cpu"].items())
                print(f"swipers {n:4}: next item p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms"
                      f"  (max {result['max_ms']:.0f}, {result['moves']} moves)  events {result['events_per_s']:6.0f}/s"
                      f"  counts pushed {result['counts_msgs']} ({result['count_updates']} posts)  errors {result['errors']}  | cpu {cpu}"
                      f"  | sessions opened in {result['open_s']:.1f}s | load generator's worst GC pause {result['gc_worst_ms']:.1f} ms",
                      flush=True)
                if result["rss"]:
                    first, last = result["rss"][0][1], result["rss"][-1][1]
                    print(f"    api RSS during the phase (MB): " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in result["rss"])
                          + f"; last / first {last / first:.3f}, peak / first {max(m for _, m in result['rss']) / first:.3f}", flush=True)
                if result["rss_split"]:
                    (anon0, file0), (anon1, file1) = result["rss_split"][0], result["rss_split"][-1]
                    print("    of it anonymous / file-backed (MB): " + ", ".join(
                        f"{t:.0f}s {a:.0f} / {f:.0f}" for (t, _), (a, f) in zip(result["rss"], result["rss_split"]))
                          + f"; anonymous last / first {anon1 / anon0:.3f}, file-backed +{file1 - file0:.0f} MB", flush=True)
                if result.get("anonymous_kinds"):
                    print("    anonymous by where it lies (MB, heap / thread arenas / large maps / small): " + ", ".join(
                        f"{t:.0f}s " + " / ".join(f"{v:.0f}" for v in k.values()) for (t, _), k in zip(result["rss"], result["anonymous_kinds"])),
                          flush=True)
                if result["catalogue_kept"]:
                    print("    catalogue rows kept at the same moments: "
                          + ", ".join(f"{t:.0f}s {k:.0f}" for (t, _), k in zip(result["rss"], result["catalogue_kept"])), flush=True)
                if result["window_p99_ms"]:
                    print(f"    next item p99 by {args.window_s:g} s of the phase: "
                          + ", ".join(f"{t:.0f}s {p:.1f} ms ({k})" for t, k, p in result["window_p99_ms"]), flush=True)
                if result["window_builds"]:
                    print(f"    shortlist builds by {args.window_s:g} s of the phase: " + "; ".join(
                        f"{i * args.window_s:g}s " + (", ".join(f"{k} {v:.0f}" for k, v in sorted(b.items())) or "none")
                        for i, b in enumerate(result["window_builds"])), flush=True)
                if builds:
                    print("    shortlist builds (from opening to the end of the phase): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(builds.items())), flush=True)
                if named or grew.get("catalogue read"):
                    result["catalogue_read_per_s"] = grew.get("catalogue read", 0) / (result["open_s"] + result["wall_s"])
                    print(f"    catalogue index: {named:.0f} posts named beyond the pool, {grew.get('catalogue at_hand', 0) / named if named else 0:.0%} at hand;"
                          f" {result['catalogue_read_per_s']:.0f} posts read a second (from opening to the end of the phase)", flush=True)
                if grew.get("trim count"):
                    print(f"    heap trims (core.heap_trim): {grew['trim count']:.0f}, mean {grew['trim sum'] / grew['trim count'] * 1000:.1f} ms,"
                          f" {grew.get('trim under 10ms', 0) / grew['trim count']:.0%} under 10 ms; longest since the api started"
                          f" {later.get('trim longest', 0) * 1000:.1f} ms", flush=True)
                if result["mongo_per_s"]:
                    print("    Mongo commands per second (mean time from send to reply): " + _ops_line(result["mongo_per_s"], 1, 8), flush=True)
            scale["memory"] = api_memory(api.pid)
            per = (scale["memory"]["rss"] - scale["memory_before"]["rss"]) / max(counts) * 1024 if counts else float("nan")
            print(f"api memory after the run: RSS {scale['memory']['rss']:.0f} MB, PSS {scale['memory']['pss']:.0f} MB,"
                  f" USS {scale['memory']['uss']:.0f} MB ({per:.0f} KB more per swiper of the largest count than before them)", flush=True)

        finally:
            if stores is not None:
                await stores.close()
            for builder in builders:
                builder.send_signal(signal.SIGTERM)
            for builder in builders:
                try:
                    builder.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(builder.pid, signal.SIGKILL)
            if args.keep_log:
                shutil.copy(tmp_path / "api.log", args.keep_log)
            if api is not None:
                api.send_signal(signal.SIGTERM)
                try:
                    api.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(api.pid, signal.SIGKILL)
            services.stop()

    if args.index_ab:
        print()
        print("catalogue index on against off, same api, same data, alternating phases (ratio: on / off)")
        for n in counts:
            on = [r for r in phases if r["swipers"] == n and r["catalogue"] is True]
            off = [r for r in phases if r["swipers"] == n and r["catalogue"] is False]
            for key in ("p50_ms", "p99_ms"):
                a, b = statistics.median(r[key] for r in on), statistics.median(r[key] for r in off)
                print(f"{n:5} swipers {key[:3]}: on {', '.join(f'{r[key]:.1f}' for r in on)} (median {a:.1f}) |"
                      f" off {', '.join(f'{r[key]:.1f}' for r in off)} (median {b:.1f}) | ratio {a / b:.2f}")
            a, b = statistics.median(r["cpu"]["api"] for r in on), statistics.median(r["cpu"]["api"] for r in off)
            print(f"{n:5} swipers api cpu: on {a:.0f}% off {b:.0f}%")
    print()
    print("swipe stream")
    print(f"{'swipers':>7} {'p50 ms':>7} {'p99 ms':>7} {'events/s':>9} {'api cpu':>8} {'nx cpu':>7} {'valkey':>7} {'loadgen':>8}")
    for r in phases:
        c = r["cpu"]
        print(f"{r['swipers']:7} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} {r['events_per_s']:9.0f} {c['api']:7.0f}% {c['nx-27017']:6.0f}%"
              f" {c['valkey']:6.0f}% {c['load generator']:7.0f}%")
    if tally:
        print()
        print("HTTP (median of rounds)")
        med = {name: statistics.median(r.rps for r in results) for name, results in tally.items()}
        for name, results in tally.items():
            print(f"{name:36} {med[name]:8.0f} req/s  p50 {statistics.median(r.p50_ms for r in results):6.2f} ms"
                  f"  p99 {statistics.median(r.p99_ms for r in results):7.2f} ms  api {statistics.median(r.api_ms for r in results):.2f} ms"
                  f" + builder {statistics.median(r.ms('builder') for r in results):.2f} ms CPU/request")
        feed_name = next(n for n in tally if n.startswith("GET /v1/feed?"))
        scale["for_you_rps"] = med[feed_name]
        for hello in ("GET /healthz", HELLO_NAME, FLOOR_NAME, STATIC_NAME):
            ratios = [f.rps / h.rps for f, h in zip(tally[feed_name], tally[hello])]
            print(f"for_you / {hello}: {med[feed_name] / med[hello]:.2f}x (per round {', '.join(f'{x:.2f}' for x in ratios)})")
        cost = {name: statistics.median(r.api_ms for r in results) for name, results in tally.items()}
        # while the api runs at ~100% of its core, this is the throughput ratio with the noise of the other processes taken out
        pairs = [(feed_name, HELLO_NAME), (feed_name, FLOOR_NAME), (STATIC_NAME, HELLO_NAME)]
        pairs += [(name, HELLO_NAME) for name in tally if name.startswith("GET /v1/feed,")]
        if len(scroll_pages) > 1:
            first = SCROLL_NAME.format(pages=min(scroll_pages))
            pairs += [(SCROLL_NAME.format(pages=p), first) for p in scroll_pages if p != min(scroll_pages)]
        for name, hello in pairs:
            short = "for_you" if name == feed_name else name
            print(f"{short} / {hello} by api CPU per request: {cost[hello] / cost[name]:.2f}x"
                  f" ({cost[name]:.2f} vs {cost[hello]:.2f} ms)")
        if builders:
            # the builders' ranking is work the feed needs too, done beside the api rather than in it
            both = {name: statistics.median(r.api_ms + r.ms("builder") for r in results) for name, results in tally.items()}
            print(f"for_you / {HELLO_NAME} by api + builder CPU per request: {both[HELLO_NAME] / both[feed_name]:.2f}x"
                  f" ({both[feed_name]:.2f} vs {both[HELLO_NAME]:.2f} ms)")
        if 0 in round_trips:
            base = cost[TRIPS_NAME.format(n=0)]
            for n in (n for n in round_trips if n):
                print(f"one Redis round trip in the loaded api (n={n}): {(cost[TRIPS_NAME.format(n=n)] - base) / n:.3f} ms CPU")
    last = phases[-1] if phases else {}
    scale.update(p50_ms=last.get("p50_ms", float("nan")), p99_ms=last.get("p99_ms", float("nan")),
                 events_per_s=last.get("events_per_s", float("nan")),
                 api_ms_per_event=10 * last["cpu"]["api"] / last["events_per_s"] if last.get("events_per_s") else float("nan"))
    return scale


if __name__ == "__main__":
    sys.exit(main())
