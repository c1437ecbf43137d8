"""One blocking Redis read per api process for every job stream its sockets
follow (job events, ``server.ws.jobs``, and live previews,
``server.ws.previews``), fanned out in memory.

A ``Topic`` is one Redis stream that at least one subscriber of this process
follows; it holds its subscribers and what a late joiner needs (the events
so far, the newest preview). The ``StreamReader`` reads every topic's stream
in one ``XREAD BLOCK`` on one pooled connection, whatever the number of
topics and subscribers, and hands each topic its new entries; the topic
encodes each message once and queues it on every subscriber's outbox (which
never blocks). A topic whose stream stayed quiet for ``IDLE_S`` is asked
whether it is over (one database read per topic, not per subscriber), and
one nobody follows any more is dropped.

A new topic must join the read at once: the reader also reads a wake stream
of its own, and ``topic`` adds an entry to it while a read is in flight (that
read does not serve the new topic: its key is not in it, or is read there
from the place of a topic the new one replaced, whose entries the new one
does not take). The entry lands either before the read (which then returns
at once) or while it blocks (which wakes it), so nothing waits for the block
to time out. Entries of every topic are read from the last id the topic saw,
so none is skipped across wake-ups, errors or reconnects."""

from __future__ import annotations

import asyncio
import logging
import uuid

from core.stores import Stores

log = logging.getLogger("fabula.ws")

BLOCK_MS = 5000  # well below the blocking pool's socket timeout (core.stores)
COUNT = 100  # entries per stream per read
IDLE_S = 5.0  # a quiet topic is asked whether it is over this often
WAKE_TTL_S = 3600


class Topic:
    """One stream followed by subscribers of this process; subclasses say what
    an entry means and when the stream is over."""

    def __init__(self, key: str, start_id: str = "0-0"):
        self.key = key
        self.last_id = start_id
        self.subscribers: set = set()
        self.quiet_since = 0.0
        self.closed = False

    def deliver(self, entries: list[tuple[bytes, dict]]) -> None:
        """New entries of the stream, oldest first (runs on the reader: must not block)."""
        raise NotImplementedError

    async def over(self) -> bool:
        """Asked after ``IDLE_S`` without entries: True ends the topic (its subscribers are told by it)."""
        return False

    def close(self) -> None:
        """The topic is dropped: end what its subscribers wait for."""
        self.closed = True


class StreamReader:
    def __init__(self, stores: Stores):
        self.stores = stores
        self.loop = asyncio.get_running_loop()
        self.topics: dict[str, Topic] = {}
        self.wake_key = stores.key("ws", "wake", uuid.uuid4().hex)
        self.wake_id = "0-0"
        self.reading: set[str] | None = None  # the keys of the read in flight
        self.reads = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()  # wake-ups and topics' ends, held until done

    # -- topics ------------------------------------------------------------

    def topic(self, key: str, make) -> Topic:
        """The topic of ``key``, made by ``make()`` when this process follows it for the first time."""
        found = self.topics.get(key)
        if found is None or found.closed:
            found = self.topics[key] = make()
            found.quiet_since = self.loop.time()
            self._start()
            # the read in flight does not serve it (the key is not in it, or is read there
            # for a topic it replaced, from that one's place): wake it, so it reads anew
            if self.reading is not None:
                self.run_soon(self._wake())
        return found

    def run_soon(self, coro) -> None:
        """Run ``coro`` in the background, held until it is done."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def leave(self, topic: Topic, subscriber) -> None:
        topic.subscribers.discard(subscriber)
        if not topic.subscribers and self.topics.get(topic.key) is topic:
            del self.topics[topic.key]  # its key leaves the next read

    def end(self, topic: Topic) -> None:
        if self.topics.get(topic.key) is topic:
            del self.topics[topic.key]
        topic.close()

    async def _wake(self) -> None:
        try:
            async with self.stores.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self.wake_key, {"w": 1}, maxlen=8, approximate=True)
                pipe.expire(self.wake_key, WAKE_TTL_S)
                await pipe.execute()
        except Exception:
            log.warning("stream reader wake-up failed; the new topic joins within %s ms", BLOCK_MS)

    # -- the read ----------------------------------------------------------

    def _start(self) -> None:
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ws-streams")

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self.topics:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            read_for = dict(self.topics)  # the topics this read serves
            streams = {key: topic.last_id for key, topic in read_for.items()}
            streams[self.wake_key] = self.wake_id
            self.reading = set(streams)
            try:
                reply = await self.stores.redis_blocking.xread(streams, block=BLOCK_MS, count=COUNT)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job stream read failed; reading again")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            finally:
                self.reading = None
            self.reads += 1
            now = self.loop.time()
            for raw_key, entries in reply or ():
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                if not entries:
                    continue
                if key == self.wake_key:
                    self.wake_id = _text(entries[-1][0])
                    continue
                topic = self.topics.get(key)
                if topic is None or topic is not read_for.get(key):
                    # dropped meanwhile, or made anew (left and followed again): the new
                    # topic reads its stream from its own start, for its subscribers' replay
                    continue
                topic.last_id = _text(entries[-1][0])
                topic.quiet_since = now
                try:
                    topic.deliver(entries)
                except Exception:
                    log.exception("job stream delivery failed", extra={"key": key})
            quiet = [t for t in self.topics.values() if now - t.quiet_since >= IDLE_S]
            if quiet:
                for topic in quiet:
                    topic.quiet_since = now
                await asyncio.gather(*(self._check(t) for t in quiet))

    async def _check(self, topic: Topic) -> None:
        try:
            if await topic.over():
                self.end(topic)
        except Exception:
            log.exception("job stream check failed", extra={"key": topic.key})


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_reader: StreamReader | None = None


def reader(stores: Stores) -> StreamReader:
    """This process's reader (one per event loop)."""
    global _reader
    if _reader is None or _reader.loop is not asyncio.get_running_loop() or _reader.stores is not stores:
        _reader = StreamReader(stores)
    return _reader
