"""A Redis that hangs (its process stopped: it accepts nothing and closes
nothing) fails a command after the command timeout
(``FABULA_REDIS_COMMAND_TIMEOUT_S``), and the api answers 503 with
``Retry-After`` rather than waiting on; the blocking stream reads, which
wait 5 s by design, have a pool of their own whose timeout is above that
(core.stores). Each test stops a private Valkey, never the suite's."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import httpx
import msgspec
import pytest
from redis.exceptions import TimeoutError as RedisTimeout

from core.embedded import start_valkey
from core.settings import Settings
from core.stores import open_stores
from tests.conftest import signup
from tests.procs import start_api

SHORT_S = 1.0  # the command timeout these tests set (the default is 10 s)
GUARD_S = 20.0  # a hang past this fails the test instead of blocking it


@pytest.fixture
def valkey(tmp_path):
    service = start_valkey(tmp_path / "valkey")
    try:
        yield service
    finally:
        os.kill(service.proc.pid, signal.SIGCONT)  # a stopped process does not stop
        service.stop()


@pytest.fixture
def short(settings, valkey) -> Settings:
    return msgspec.structs.replace(
        settings, redis_url=f"redis://127.0.0.1:{valkey.port}/0", redis_command_timeout_s=SHORT_S, namespace="h" + uuid.uuid4().hex[:8]
    )


async def test_a_blocking_read_outlasts_the_command_timeout_on_its_own_pool(short):
    stores = open_stores(short)
    try:
        key = stores.key("quiet", "stream")
        # a read that blocks longer than the command timeout: answered empty on the blocking pool ...
        assert await asyncio.wait_for(stores.redis_blocking.xread({key: "$"}, block=int(2.5 * 1000 * SHORT_S)), GUARD_S) == []
        # ... and cut off as a timeout on the commands' pool, which is why it has a pool of its own
        with pytest.raises(RedisTimeout):
            await asyncio.wait_for(stores.redis.xread({key: "$"}, block=int(2.5 * 1000 * SHORT_S)), GUARD_S)
        assert await stores.redis.ping()
    finally:
        await stores.close()


async def test_a_hung_redis_fails_a_command_and_is_used_again_when_it_comes_back(short, valkey):
    stores = open_stores(short)
    try:
        await stores.redis.set(stores.key("k"), b"v")
        os.kill(valkey.proc.pid, signal.SIGSTOP)
        with pytest.raises(RedisTimeout):
            await asyncio.wait_for(stores.redis.get(stores.key("k")), GUARD_S)
        os.kill(valkey.proc.pid, signal.SIGCONT)
        assert await asyncio.wait_for(stores.redis.get(stores.key("k")), GUARD_S) == b"v"
    finally:
        await stores.close()


async def test_the_api_answers_503_while_redis_hangs(short, valkey, tmp_path):
    api = start_api(short, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=GUARD_S) as http:
            me = await signup(http)
            body = {"handle": me["user"]["handle"], "password": "correct horse battery"}
            os.kill(valkey.proc.pid, signal.SIGSTOP)
            r = await http.post("/v1/auth/login", json=body)  # its rate limits live in Redis
            assert r.status_code == 503 and r.headers.get("retry-after"), r.text
            assert r.json()["error"]["code"] == "unavailable", r.text
            os.kill(valkey.proc.pid, signal.SIGCONT)
            r = await http.post("/v1/auth/login", json=body)
            assert r.status_code == 200, r.text
    finally:
        os.kill(valkey.proc.pid, signal.SIGCONT)
        api.stop()
