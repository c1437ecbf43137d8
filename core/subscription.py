"""Receiving broadcasts: one Redis pub/sub connection that reads several
channels and hands each message to its channel's handler (the sending half
is ``core.broadcast``).

``Subscription(stores, {channel: handler})`` reads every channel on one
connection; each message's raw payload goes to its channel's handler. A
handler is a plain function (it runs on the reader task, so it must not
block) or a coroutine function (awaited in order, one message at a time).
An api process holds three: the feed's (``feed.live.runtime``: live counters,
post changes and follow/block graph changes), the WebSocket
notifications' (``server.ws.notifications``) and the token revocations'
(``server.token_sockets``), each shared by everyone in the process who
listens to its channels.

The reader waits with a timeout well below the Redis socket timeout, so a
quiet channel never looks like a dead socket, and on any error it
resubscribes with backoff. A message published while it was away is not
replayed: ``on_connect`` runs after every (re)subscribe so the owner can
catch up (the feed re-reads its pool and drops its caches; the
notifications' hub pushes those made since ``lost_at``, the time the
connection was lost, which ``on_connect`` can read). ``stop_all`` ends every reader of a process's stores,
before the stores close (else each logs the connection it lost)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import weakref
from collections.abc import Awaitable, Callable

from core.stores import Stores

log = logging.getLogger("fabula.fanout")

POLL_S = 5.0
READY_WAIT_S = 5.0

Handler = Callable[[bytes], object] | Callable[[bytes], Awaitable[object]]
_running: "weakref.WeakSet[Subscription]" = weakref.WeakSet()  # started and not stopped (``stop_all``)


class Subscription:
    def __init__(
        self, stores: Stores, handlers: dict[str, Handler], *, name: str = "fanout", on_connect: Callable[[], object] | None = None
    ):
        self.stores = stores
        self.handlers = dict(handlers)  # full channel name -> handler
        self.name = name
        self.on_connect = on_connect  # called after every (re)subscribe: time to catch up
        self.connects = 0
        self.lost_at: float | None = None  # wall-clock time the connection was lost, until the next subscribe
        self.ready = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.received = 0

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=self.name)
        _running.add(self)

    async def stop(self) -> None:
        _running.discard(self)
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_ready(self, timeout: float = READY_WAIT_S) -> None:
        """Start, and wait (at most ``timeout``) until every channel is subscribed."""
        self.start()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout)

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self.stores.redis.pubsub()
            try:
                await pubsub.subscribe(*self.handlers)
                self.connects += 1
                if self.on_connect is not None:
                    self.on_connect()
                self.lost_at = None
                self.ready.set()
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
                    if message is not None and message.get("type") == "message":
                        await self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                self.ready.clear()
                if self.lost_at is None:
                    self.lost_at = time.time()
                log.exception("%s: subscriber failed; resubscribing", self.name)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _deliver(self, channel: bytes | str, data: bytes) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        handler = self.handlers.get(name)
        if handler is None:
            return
        self.received += 1
        try:
            result = handler(data)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            # one bad message (or listener) must not stop the others
            log.exception("%s: handler for %s failed", self.name, name)


async def stop_all(stores: Stores) -> None:
    """Stop every running subscription that reads ``stores`` (at an api's
    shutdown, before the stores close)."""
    for subscription in [s for s in _running if s.stores is stores]:
        await subscription.stop()
