"""Connections to MongoDB (PyMongo's async API) and Redis/Valkey, opened once
per process and shared. Every package reaches its collections and keys
through a ``Stores``; the namespace keeps installations apart on shared servers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.settings import Settings


REDIS_BLOCKING_TIMEOUT_S = 30.0  # the blocking reads' pool: well above their longest block (5 s)
REDIS_MAX_CONNECTIONS = 512


@dataclass
class Stores:
    settings: Settings
    mongo: AsyncMongoClient
    db: AsyncDatabase
    redis: aioredis.Redis  # commands; a hung server fails them after settings.redis_command_timeout_s
    redis_blocking: aioredis.Redis  # blocking reads only (XREAD BLOCK, BLPOP), on a pool of their own
    flavour: str | None = None  # "mongodb" or "nx-27017", learnt on first use (core.mongo_compat)
    _scripts: dict[str, object] = field(default_factory=dict, init=False, repr=False)  # per client: not copied by replace()

    def script(self, source: str):
        """The Lua ``source`` as a callable script (EVALSHA, loaded on first use),
        made once per process rather than at every call."""
        found = self._scripts.get(source)
        if found is None:
            found = self._scripts[source] = self.redis.register_script(source)
        return found

    def key(self, *parts: str) -> str:
        """A Redis key inside this installation's namespace."""
        return ":".join((self.settings.namespace, *parts))

    async def ping(self, timeout: float = 2.0) -> dict[str, bool]:
        async def one(coro) -> bool:
            try:
                await asyncio.wait_for(coro, timeout)
                return True
            except Exception:
                return False

        mongo_ok, redis_ok = await asyncio.gather(
            one(self.db.command("ping")), one(self.redis.ping())
        )
        return {"mongo": mongo_ok, "redis": redis_ok}

    async def close(self) -> None:
        for client in (self.redis, self.redis_blocking):
            await client.aclose()
            await client.connection_pool.disconnect()
        await self.mongo.close()


def _redis(settings: Settings, socket_timeout: float) -> aioredis.Redis:
    # A blocking pool waits for a free connection instead of raising when
    # every connection is busy (many WebSocket sessions at once).
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=socket_timeout,
        health_check_interval=30,
        socket_timeout=socket_timeout,
        socket_connect_timeout=5,
    )
    return aioredis.Redis(connection_pool=pool, decode_responses=False)


def open_stores(settings: Settings) -> Stores:
    mongo = AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000)
    # Two pools, so that a Redis that hangs (stopped, or behind a network that
    # drops packets) fails a command after a short socket timeout, while a
    # blocking stream read, which waits up to 5 s by design, has a timeout
    # well above its block on a pool of its own.
    return Stores(
        settings=settings,
        mongo=mongo,
        db=mongo[settings.namespace],
        redis=_redis(settings, settings.redis_command_timeout_s),
        redis_blocking=_redis(settings, REDIS_BLOCKING_TIMEOUT_S),
    )
