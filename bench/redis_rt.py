"""What does one Redis round trip cost the api's process, through redis-py?

The feed's pages and swipes make one to three pipelined round trips each, and
the api's CPU per request is what bounds its throughput. This measures, on an
embedded Valkey and in one process (uvloop, 16 concurrent tasks as requests
would be):

  * redis-py as the api uses it (``core.stores.open_stores``' pool and client):
    a 3-command pipeline (GET, EXISTS of two keys, HGET) and a single GET;
  * the same, with ``socket_timeout`` unset (redis-py then sends without
    ``asyncio.wait_for`` and reads without a timeout context);
  * a baseline: the same 3 commands written as one buffer on a bare asyncio
    protocol and parsed with hiredis (the parser redis-py uses), which is
    about the least a Python client can do per round trip.

It prints CPU microseconds per round trip of this process (the server's CPU
is not counted) and the ratios to the baseline, interleaved over ``--rounds``.

Usage (from the repository root):
    .venv/bin/python bench/redis_rt.py [--n 16000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONCURRENCY = 16


async def cpu_per_call(make_task, n: int) -> float:
    """CPU µs of this process per call, ``n`` calls over CONCURRENCY tasks."""
    per = n // CONCURRENCY
    await asyncio.gather(*(make_task(max(1, per // 20)) for _ in range(CONCURRENCY)))  # warm-up
    start = time.process_time()
    await asyncio.gather(*(make_task(per) for _ in range(CONCURRENCY)))
    return (time.process_time() - start) / (per * CONCURRENCY) * 1e6


def redis_py_tasks(client):
    async def pipelines(m: int) -> None:
        for _ in range(m):
            async with client.pipeline(transaction=False) as pipe:
                pipe.get("k")
                pipe.exists("a", "b")
                pipe.hget("h", "f")
                await pipe.execute()

    async def gets(m: int) -> None:
        for _ in range(m):
            await client.get("k")

    return pipelines, gets


class _Replies(asyncio.Protocol):
    """A connection that hands each waiter its ``count`` parsed replies, in order."""

    def __init__(self) -> None:
        import hiredis

        self.reader = hiredis.Reader()
        self.waiting: deque = deque()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while self.waiting:
            future, count, replies = self.waiting[0]
            while len(replies) < count:
                reply = self.reader.gets()
                if reply is False:
                    return
                replies.append(reply)
            self.waiting.popleft()
            future.set_result(replies)


async def baseline_task_factory(host: str, port: int):
    import hiredis

    loop = asyncio.get_running_loop()
    conns = [(await loop.create_connection(_Replies, host, port))[1] for _ in range(CONCURRENCY)]
    free = deque(conns)
    commands = (("GET", "k"), ("EXISTS", "a", "b"), ("HGET", "h", "f"))

    async def pipelines(m: int) -> None:
        conn = free.popleft()
        try:
            for _ in range(m):
                future = loop.create_future()
                conn.waiting.append((future, len(commands), []))
                conn.transport.write(b"".join(hiredis.pack_command(c) for c in commands))
                await future
        finally:
            free.append(conn)

    return pipelines, conns


async def main_async(args) -> None:
    import redis.asyncio as aioredis

    from core.embedded import EmbeddedServices
    from core.settings import Settings
    from core.stores import open_stores

    with tempfile.TemporaryDirectory() as tmp:
        services = EmbeddedServices.start(Path(tmp) / "svc")
        try:
            settings = Settings(mongo_url=services.mongo_url, redis_url=services.redis_url, namespace="rt", data_dir=Path(tmp) / "data")
            stores = open_stores(settings)  # the api's own pool and client
            await stores.redis.set("k", b"x" * 50)
            pool = stores.redis.connection_pool
            untimed = aioredis.Redis(
                connection_pool=aioredis.BlockingConnectionPool.from_url(
                    settings.redis_url, max_connections=pool.max_connections, timeout=pool.timeout, socket_timeout=None
                )
            )
            host, port = services.redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            base_pipe, conns = await baseline_task_factory(host, int(port))
            app_pipe, app_get = redis_py_tasks(stores.redis)
            untimed_pipe, untimed_get = redis_py_tasks(untimed)
            cases = {
                "baseline: bare protocol + hiredis, 3-command pipeline": base_pipe,
                "redis-py as the api uses it, 3-command pipeline": app_pipe,
                "redis-py as the api uses it, one GET": app_get,
                "redis-py without socket_timeout, 3-command pipeline": untimed_pipe,
                "redis-py without socket_timeout, one GET": untimed_get,
            }
            found: dict[str, list[float]] = {name: [] for name in cases}
            for r in range(args.rounds):
                names = list(cases) if r % 2 == 0 else list(cases)[::-1]
                for name in names:
                    found[name].append(await cpu_per_call(cases[name], args.n))
            for conn in conns:
                conn.transport.close()
            await untimed.aclose()
            await stores.close()
        finally:
            services.stop()

    import redis

    print(f"redis-py {redis.__version__}, Python {sys.version.split()[0]}, {CONCURRENCY} concurrent tasks, "
          f"{args.n} round trips per case and round, {args.rounds} rounds (median; CPU of this process only)")
    base = statistics.median(found[next(iter(found))])
    for name, values in found.items():
        med = statistics.median(values)
        print(f"{name:55} {med:7.1f} µs  x{med / base:4.1f}  (rounds {', '.join(f'{v:.1f}' for v in values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16000, help="round trips per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import uvloop

    uvloop.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
