"""WebSocket handlers of the swipe stream: ``feed.open``, ``feed.event``,
``feed.close`` (docs/FEED-PROTOCOL.md is the client's guide).

A connection may drive up to ``MAX_SESSIONS`` feed sessions. Each keeps
``window`` items ahead of the client (``feed.serving.stream``); events are applied,
the next items are sent at once, and the event's other effects (view
history, like counters, notifications, the long-term taste; view counters
go to the process's batches, ``feed.social.view_batches``) are queued for the
connection's effects task, so the next item waits for ranking alone. So
are a rebuild of the session's shortlist that can wait
(``ForYou.defer_rebuilds``) and the save of what an event changed in the
session (its position and taste) when the event serves no item; an event
that does serve items saves it with them when no earlier effects are still
to run. The effects queue is bounded (``EFFECTS_QUEUE``); ``feed.ack``
leaves once an event's effects are done.

A for-you session's source is built and started as the HTTP pages' is
(``feed.live.ranker``), and items served before (a resume) are checked
again as they are (``feed.live.pages.served_again``).

Live counts: every session watches the posts of its window on the process's
``CountsHub`` (``feed.live.counts_hub``), which hands it the current counters of a changed post (read
once per flush for every session). They wait in a dict, one entry per post,
the latest; at most every ``COUNTS_INTERVAL_S``, and only while the
connection's outbox is less than half full, they are pushed where they differ
from what the client last got, every post that changed in one message. A
client that reads slowly gets fewer, newer counts, and the server holds at
most one pending entry per post in the window, however fast the counters
move."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core import rate_limit
from core.errors import FabulaError
from feed.live import pages, ranker
from feed.live.runtime import POOL_REFRESH_S, FeedRuntime, ready
from feed.live.visibility import check_visible
from feed.ranking.interest import EVENTS
from feed.serving import sessions
from feed.serving.for_you import load_session
from feed.serving.stream import MAX_RESEND, FeedStream, FollowingSource, NotInSession, Served
from feed.social import likes, shares, views
from server.errors import BACKING_DOWN, UNAVAILABLE_MESSAGE
from server.post_views import Counts, counts_view, feed_views, to_wire
from server.ws import protocol as proto
from server.ws.connection import Connection
from server.ws.served_notes import ServedNotes

log = logging.getLogger("fabula.ws")

DEFAULT_WINDOW = 5
MAX_WINDOW = 20
MAX_SESSIONS = 4
COUNTS_INTERVAL_S = 1.0
ITEMS_PER_MESSAGE = 20
EFFECTS_QUEUE = 32  # events whose effects may wait on one connection
MAX_WATCH_MS = 3_600_000

Event = Literal["impression", "view", "complete", "like", "skip", "share", "not_interested"]
assert set(Event.__args__) == set(EVENTS)  # type: ignore[attr-defined]


class FeedOpen(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["for_you", "following"] = "for_you"
    window: Annotated[int, Meta(ge=1, le=MAX_WINDOW)] | None = None
    session_id: proto.ObjectId | None = None
    cursor: Annotated[int, Meta(ge=0)] | None = None


class FeedEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    session_id: proto.ObjectId
    post_id: proto.ObjectId
    event: Event
    watch_ms: Annotated[int, Meta(ge=0, le=MAX_WATCH_MS)] | None = None


class FeedClose(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    session_id: proto.ObjectId


class Live:
    """One feed session driven by one connection: its stream and its counts pusher."""

    def __init__(self, conn: Connection, stream: FeedStream, rt: FeedRuntime):
        self.conn = conn
        self.stream = stream
        self.rt = rt
        self.pending: dict[str, dict[str, int]] = {}
        self.last_sent: dict[str, Counts] = {}
        self.window: set[str] = set()
        self.wake = asyncio.Event()
        self.notes = ServedNotes()  # by place in the session: viewed on this connection yet, the clip's length
        self.told_exhausted = False
        self.full = False  # the session served its maximum: nothing more will come
        self.lock = asyncio.Lock()  # one top-up at a time: an event's, or ``wait_for_more``'s

    @property
    def task_key(self) -> str:
        return f"feed:{self.stream.id}"

    @property
    def more_key(self) -> str:
        return f"feed-more:{self.stream.id}"

    async def wait_for_more(self) -> None:
        """The session said exhausted: serve what the pool takes in later (a post
        published since), without waiting for an event (the client has none to send)."""
        pool = self.rt.pool
        while self.told_exhausted and not self.full:
            await pool.moved(pool.version)
            async with self.lock:
                if not self.told_exhausted:
                    return  # an event served items meanwhile
                busy = effects_of(self.conn).busy
                try:
                    served = await self.stream.top_up(save="later" if busy else "with_items")
                except sessions.SessionMoved:
                    _drop(self.conn, self)
                    return
                except sessions.SessionFull:
                    self.full = True
                    return
                if served:
                    await self.send_items(served)
                    self.rewatch()

    # -- counts --------------------------------------------------------------

    def counts_changed(self, post_id: str, counts: dict[str, int]) -> None:
        if post_id in self.window:
            self.pending[post_id] = counts  # the latest replaces what waits: one entry per post
            self.wake.set()

    def rewatch(self) -> None:
        self.window = set(self.stream.window_ids())
        for pid in [p for p in self.pending if p not in self.window]:
            del self.pending[pid]
        for pid in [p for p in self.last_sent if p not in self.window]:
            del self.last_sent[pid]
        self.rt.hub.watch(self, self.window)

    async def push_counts(self) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while self.conn.outbox.qsize() >= proto.OUTBOX_LIMIT // 2:
                    await asyncio.sleep(COUNTS_INTERVAL_S)  # the client is behind: let counts coalesce
                changed: dict[str, dict] = {}
                for post_id, raw in self.pending.items():
                    counts = counts_view(raw)
                    if post_id in self.window and self.last_sent.get(post_id) != counts:
                        self.last_sent[post_id] = counts
                        changed[post_id] = msgspec.to_builtins(counts)
                self.pending.clear()
                if changed:  # one message for every post that changed
                    self.conn.send(proto.out("feed.counts", {"session_id": self.stream.id, "posts": changed}))
                await asyncio.sleep(COUNTS_INTERVAL_S)
        finally:
            self.rt.hub.unwatch(self)

    # -- items ---------------------------------------------------------------

    async def send_items(self, served: list[Served], resent: list[tuple[int, str]] = (), *, reply_to: str | None = None, always: bool = False) -> None:  # type: ignore[assignment]
        conn, stream = self.conn, self.stream
        posts = [s.post for s in served]
        places = [(s.index, s.source) for s in served]
        liked = {s.post.id for s in served if s.liked} if all(s.liked is not None for s in served) and not resent else None
        if resent:
            again = await pages.served_again(conn.stores, conn.user.id, [pid for _, pid in resent])
            old = [(i, again[pid]) for i, pid in resent if pid in again]
            posts = [p for _, p in old] + posts
            places = [(i, "resent") for i, _ in old] + places
        for post, (place, _) in zip(posts, places):
            self.notes.note_length(place, post.duration_ms)
        items = await feed_views(conn.stores, self.rt, conn.user.id, posts, places=places, liked=liked)
        for item in items:
            self.last_sent[item.id] = item.counts
        exhausted = stream.exhausted and stream.ahead <= 0
        if not items and not always and not (exhausted and not self.told_exhausted):
            return
        self.told_exhausted = exhausted
        if exhausted and not self.full:
            self.conn.start_task(self.more_key, self.wait_for_more())
        chunks = [items[i : i + ITEMS_PER_MESSAGE] for i in range(0, len(items), ITEMS_PER_MESSAGE)] or [[]]
        for n, chunk in enumerate(chunks):
            last = n == len(chunks) - 1
            data = {
                "session_id": stream.id,
                "items": to_wire(chunk),
                "cursor": stream.cursor if last else chunk[-1].index + 1,  # type: ignore[attr-defined]
                "exhausted": exhausted if last else False,
            }
            conn.send(proto.out("feed.items", data, reply_to if last else None))


_lives: weakref.WeakKeyDictionary[Connection, dict[str, Live]] = weakref.WeakKeyDictionary()


def lives(conn: Connection) -> dict[str, Live]:
    found = _lives.get(conn)
    if found is None:
        found = _lives[conn] = {}
    return found


def _drop(conn: Connection, live: Live) -> None:
    conn.cancel_task(live.task_key)
    conn.cancel_task(live.more_key)
    live.rt.hub.unwatch(live)
    lives(conn).pop(live.stream.id, None)


MOVED_KEPT = 16  # sessions a connection remembers were taken from it, for its next event's answer
MOVED_MESSAGE = "this session was opened on another connection"
_moved_away: weakref.WeakKeyDictionary[Connection, list[str]] = weakref.WeakKeyDictionary()


def _taken_over(message: sessions.Moved) -> None:
    """Another connection (on any api process) resumed a session: the one that drove
    it here lets it go at once (its live counts stop, its slot is free) and is told."""
    for conn, held in list(_lives.items()):
        live = held.get(message.session_id)
        if live is None or live.stream.state.owner == message.owner:
            continue
        _drop(conn, live)
        moved = _moved_away.setdefault(conn, [])
        moved.append(message.session_id)
        del moved[:-MOVED_KEPT]
        conn.send(proto.out("error", {"code": "session_moved", "message": MOVED_MESSAGE, "session_id": message.session_id}))


sessions.MOVED.listen(_taken_over)  # for the life of the process: every connection's sessions


def _error(conn: Connection, code: str, message: str, reply_to: str | None) -> None:
    conn.send(proto.error(code, message, reply_to))


async def on_open(conn: Connection, msg: proto.Message) -> None:
    req = msgspec.convert(msg.data, FeedOpen)
    if req.cursor is not None and req.session_id is None:
        _error(conn, "invalid_message", "cursor resumes a session: send it with that session's session_id", msg.id)
        return
    held = lives(conn)
    stores, user_id = conn.stores, conn.user.id
    rt = await ready(stores)
    started = None  # a resumed session: what a for_you one starts from, read with it
    if req.session_id is not None:
        state = None
        if sessions.valid_session_id(req.session_id):
            await rt.pool.refresh(max_age=POOL_REFRESH_S)
            state, started = await load_session(stores, req.session_id, user_id, rt.pool, rt.shortlists)
        if state is None or state.user_id != user_id:
            _error(conn, "feed_session_not_found", f"no feed session {req.session_id!r} (sessions expire after an hour idle)", msg.id)
            return
        cursor = state.pos if req.cursor is None else req.cursor
        if cursor > len(state.served) or len(state.served) - cursor > MAX_RESEND:
            _error(
                conn, "invalid_cursor",
                f"cursor must be between {max(0, len(state.served) - MAX_RESEND)} and {len(state.served)} for this session",
                msg.id,
            )
            return
        if req.session_id in held:
            _drop(conn, held[req.session_id])
        elif len(held) >= MAX_SESSIONS:
            _error(conn, "too_many_sessions", f"a connection drives at most {MAX_SESSIONS} feed sessions; close one", msg.id)
            return
        await sessions.take_over(stores, state, window=req.window)
    else:
        if len(held) >= MAX_SESSIONS:
            _error(conn, "too_many_sessions", f"a connection drives at most {MAX_SESSIONS} feed sessions; close one", msg.id)
            return
        state = await sessions.create(stores, user_id=user_id, kind=req.kind, window=req.window or DEFAULT_WINDOW)
        cursor = 0

    viewer = await rt.viewers.viewer(user_id)
    if state.kind == "for_you":
        if started is None:
            await rt.pool.refresh(max_age=POOL_REFRESH_S)
        # a rebuild that can wait is run by each event's effects (``after``), off the path to the next item
        source = await ranker.open_for_you(rt, state, viewer, started, defer_rebuilds=True)
    else:
        source = FollowingSource(stores, state, viewer)
        await source.prepare()
    stream = FeedStream(stores, state, source)
    if req.session_id is None:
        stream.dirty.add("interest")  # where the new session's taste starts
    live = Live(conn, stream, rt)
    held[state.id] = live
    conn.send(
        proto.out(
            "feed.session",
            {"session_id": state.id, "kind": state.kind, "window": state.window, "cursor": cursor, "position": state.pos},
            msg.id,
        )
    )
    resent = stream.resend(cursor)
    try:
        served = await stream.top_up()
    except sessions.SessionFull:
        served = []
        stream.exhausted = live.full = True
        _error(conn, "session_full", f"this session served its {sessions.MAX_SERVED} items; open a new one", None)
    await live.send_items(served, resent, always=True)
    live.rewatch()
    conn.start_task(live.task_key, live.push_counts())


async def on_event(conn: Connection, msg: proto.Message) -> None:
    req = msgspec.convert(msg.data, FeedEvent)
    live = lives(conn).get(req.session_id)
    if live is None:
        if req.session_id in _moved_away.get(conn, ()):
            _error(conn, "session_moved", MOVED_MESSAGE, msg.id)
            return
        _error(conn, "feed_session_not_found", f"no open feed session {req.session_id!r} on this connection; send feed.open", msg.id)
        return
    stream = live.stream
    effects = effects_of(conn)
    async with live.lock:
        try:
            meta, sig = await stream.event(req.post_id, req.event, req.watch_ms)
            # what the event changed is saved by its effects, unless items go out now and
            # no earlier effects may still write (they would land after): then with them
            served = await stream.top_up(save="later" if effects.busy else "with_items")
        except NotInSession:
            _error(conn, "not_in_session", f"post {req.post_id!r} was not served in this session", msg.id)
            return
        except sessions.SessionMoved:
            _drop(conn, live)
            _error(conn, "session_moved", MOVED_MESSAGE, msg.id)
            return
        except sessions.SessionFull:
            served = []
            stream.exhausted = live.full = True
            _error(conn, "session_full", f"this session served its {sessions.MAX_SERVED} items; open a new one", msg.id)
        await live.send_items(served)
        live.rewatch()

    # the event's other effects run in order on the connection's effects task,
    # off the path to the next item
    user_id = conn.user.id
    stores = conn.stores

    async def after() -> None:
        place = stream.position(req.post_id)  # (the event was for an item of the session: ``stream.event``)
        place = -1 if place is None else place
        first_view = req.event in ("view", "skip", "complete") and live.notes.first_view(place)
        if first_view:
            # once per viewer and post an hour, as over HTTP (feed.social.views); counted with the
            # process's next batch (feed.social.view_batches); the history at once, with the taste
            if await views.count_once(stores, user_id, req.post_id):
                live.rt.views.add(
                    req.post_id, watch_ms=req.watch_ms or 0, completed=req.event == "complete", length_ms=live.notes.length(place)
                )
        moved = False
        try:
            await stream.remember(req.post_id, req.event, meta, sig, viewed=first_view)
        except sessions.SessionMoved:
            moved = True  # the like or share below is the user's all the same
        else:
            await stream.refresh()
        share_url = None
        if req.event == "like":
            await rate_limit.count_like(stores, user_id)  # as over HTTP: refused, the error takes the ack's place
            post = await check_visible(stores, live.rt.pool, live.rt.viewers, user_id, req.post_id)
            await likes.like(stores, user_id, req.post_id, post=post)
        elif req.event == "share":
            await check_visible(stores, live.rt.pool, live.rt.viewers, user_id, req.post_id)
            share_url = stores.settings.public_url.rstrip("/") + await shares.share(stores, user_id, req.post_id)
        if moved:
            if lives(conn).get(stream.id) is live:
                _drop(conn, live)
            _error(conn, "session_moved", MOVED_MESSAGE, msg.id)
        elif msg.id is not None:
            ack = {"session_id": stream.id, "post_id": req.post_id, "event": req.event, "position": stream.state.pos, "cursor": stream.cursor}
            if share_url is not None:
                ack["share_url"] = share_url
            conn.send(proto.out("feed.ack", ack, msg.id))

    await effects.put(after, msg.id)


class Effects:
    """A connection's event side effects (counters, likes, shares, the long-term
    taste, the session's save), run one after another by one task. The queue is
    bounded: a client whose effects fall behind waits for them before its next
    message is read. Those queued when the client leaves still run
    (``Connection.finish_on_close``)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.queue: asyncio.Queue[tuple[Callable[[], Awaitable[None]], str | None]] = asyncio.Queue(EFFECTS_QUEUE)
        self.running = False

    @property
    def busy(self) -> bool:
        """Whether a job is waiting or running."""
        return self.running or not self.queue.empty()

    async def put(self, job: Callable[[], Awaitable[None]], reply_to: str | None) -> None:
        await self.queue.put((job, reply_to))

    async def run(self) -> None:
        while True:
            job, reply_to = await self.queue.get()
            self.running = True
            try:
                await job()
            except FabulaError as exc:
                self.conn.send(proto.error_of(exc, reply_to))
            except BACKING_DOWN as exc:  # Mongo or Redis restarting: the effects may be partly done
                log.warning("feed event effects failed: backing service unavailable", extra={"error": type(exc).__name__})
                self.conn.send(proto.error("unavailable", UNAVAILABLE_MESSAGE, reply_to))
            except Exception:
                log.exception("feed event effects failed")
                self.conn.send(proto.error("internal_error", "the event was applied to the feed but its effects failed", reply_to))
            finally:
                self.running = False
                self.queue.task_done()


_effects: weakref.WeakKeyDictionary[Connection, Effects] = weakref.WeakKeyDictionary()


def effects_of(conn: Connection) -> Effects:
    found = _effects.get(conn)
    if found is None or "feed-effects" not in conn.tasks:
        found = _effects[conn] = Effects(conn)
        conn.start_task("feed-effects", found.run())
        conn.finish_on_close(found.queue.join)
    return found


async def on_close(conn: Connection, msg: proto.Message) -> None:
    req = msgspec.convert(msg.data, FeedClose)
    live = lives(conn).get(req.session_id)
    if live is None:
        _error(conn, "feed_session_not_found", f"no open feed session {req.session_id!r} on this connection", msg.id)
        return
    _drop(conn, live)
    async with live.lock:  # after any top-up under way
        try:
            await live.stream.give_back()
        except sessions.SessionMoved:
            pass  # another connection drives it now: what it serves is its own
    conn.send(proto.out("feed.closed", {"session_id": req.session_id, "cursor": live.stream.cursor}, msg.id))


HANDLERS = {"feed.open": on_open, "feed.event": on_event, "feed.close": on_close}
