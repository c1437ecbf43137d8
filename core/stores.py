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


REDIS_SOCKET_TIMEOUT_S = 30.0
REDIS_MAX_CONNECTIONS = 512


@dataclass
class Stores:
    settings: Settings
    mongo: AsyncMongoClient
    db: AsyncDatabase
    redis: aioredis.Redis
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
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()
        await self.mongo.close()


def open_stores(settings: Settings) -> Stores:
    mongo = AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000)
    # Blocking stream reads (XREAD/XREADGROUP BLOCK) wait up to a few seconds;
    # the socket timeout must stay well above the longest block (redis-py's
    # default of 5 s would cut a 5 s block off as a timeout error).
    # A blocking pool waits for a free connection instead of raising when
    # every connection is busy (many WebSocket sessions at once).
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_SOCKET_TIMEOUT_S,
        health_check_interval=30,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=5,
    )
    redis = aioredis.Redis(connection_pool=pool, decode_responses=False)
    return Stores(settings=settings, mongo=mongo, db=mongo[settings.namespace], redis=redis)
