"""A feed session being driven: the window of items ahead, events, resume.

The rules (docs/FEED-PROTOCOL.md tells them to clients):

* ``pos`` is how far the client has got: 1 + the index of the furthest item
  it sent an event for. The stream keeps ``window`` items served beyond
  ``pos`` and no more: while the client sends no events, nothing new is
  made, so a client that stops reading costs nothing more.
* Every served item is appended to the session's served list in Redis before
  it is handed to the caller, so a resume (``served[cursor:]``, then carry on)
  repeats nothing and skips nothing.
* Events move ``pos`` and the session's taste (``feed.serving.for_you``). What they
  changed is saved with the next items served, in the same round trip, or by
  the event's ``remember`` (``top_up``'s ``save``); the long-term taste
  (``feed.ranking.interest``) moves there too.

The stream itself sends nothing: the caller (WebSocket handler or HTTP route)
renders and delivers what ``top_up`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.stores import Stores
from feed.ranking import interest as taste
from feed.serving import openings, seen, sessions
from feed.serving.following import following_feed
from feed.serving.for_you import Picked, PostMeta
from feed.social import likes, views
from feed.social.posts import Post, get_posts, posts_by_authors
from feed.social.visibility import visible_posts
from feed.viewer import Viewer

Save = Literal["now", "with_items", "later"]  # when ``top_up`` saves what events changed
MAX_RESEND = 200  # a resume may ask for at most this many already-served items
NEAR_END = 24  # items from the end looked at first for an event's item (a client's window is at most 20 ahead)


class NotInSession(Exception):
    """The post is not one this session served."""


@dataclass
class Served:
    index: int
    post: Post
    source: str
    liked: bool | None = None


class FollowingSource:
    """The following feed as a stream: newest first, then older, by the same
    query as ``GET /v1/feed?kind=following``, each post checked as the routes
    check it (``feed.social.visibility``). Once the oldest is served, posts
    published since the session's newest come, oldest first."""

    kind = "following"

    def __init__(self, stores: Stores, state: sessions.SessionState, viewer: Viewer):
        self.stores = stores
        self.state = state
        self.viewer = viewer
        self.before = state.served[-1] if state.served else None
        self.newest = max(state.served) if state.served else None  # ids sort by time
        self.ended = False
        self.meta: dict[str, PostMeta] = {}

    async def prepare(self) -> None:
        return None

    async def refresh(self) -> None:
        return None

    async def next(self, n: int) -> list[Picked]:
        picks = await self._older(n)
        self._note_newest(picks)  # before the end is looked at: a timeline read whole in this call is served once
        if len(picks) < n and self.ended:
            if self.newest is None:  # nothing served yet: the newest page again
                self.ended, self.before = False, None
                more = await self._older(n - len(picks))
            else:
                more = await self._newer(n - len(picks))
            self._note_newest(more)
            picks += more
        return picks

    def _note_newest(self, picks: list[Picked]) -> None:
        for pick in picks:
            self.newest = max(self.newest or pick.post.id, pick.post.id)

    async def _newer(self, n: int) -> list[Picked]:
        """Posts published after the newest this session served, oldest first."""
        rows = await posts_by_authors(
            self.stores, list(dict.fromkeys([self.viewer.user_id, *sorted(self.viewer.following)])), before=None,
            after=self.newest, limit=n, viewer_id=self.viewer.user_id,
        )
        if rows:
            self.newest = rows[-1].id
        picks = []
        for post in await visible_posts(self.stores, rows, self.viewer.user_id):
            picks.append(Picked(post, "following"))
            self.meta[post.id] = PostMeta(post.author_id, None, False)
        return picks

    async def _older(self, n: int) -> list[Picked]:
        picks: list[Picked] = []
        while len(picks) < n and not self.ended:
            page = await following_feed(
                self.stores, self.viewer.user_id, sorted(self.viewer.following), cursor=self.before, limit=n - len(picks)
            )
            if not page.items:
                self.ended = True
                break
            self.before = page.items[-1].id
            self.ended = page.next_cursor is None
            for post in await visible_posts(self.stores, page.items, self.viewer.user_id):
                picks.append(Picked(post, "following"))
                self.meta[post.id] = PostMeta(post.author_id, None, False)
        return picks

    async def learn(self, post_ids: list[str]) -> None:
        missing = [pid for pid in post_ids if pid not in self.meta]
        if missing:
            for post in (await get_posts(self.stores, missing)).values():
                self.meta[post.id] = PostMeta(post.author_id, None, False)

    async def on_event(self, post_id: str, event: str, watch_ms: int | None) -> tuple[PostMeta | None, taste.Signal]:
        await self.learn([post_id])
        return self.meta.get(post_id), taste.signal(event, watch_ms)


class FeedStream:
    def __init__(self, stores: Stores, state: sessions.SessionState, source):
        self.stores = stores
        self.state = state
        self.source = source
        self.exhausted = False
        self.dirty: set[str] = set()  # state fields changed by events, written with the next items

    @property
    def id(self) -> str:
        return self.state.id

    @property
    def cursor(self) -> int:
        """How many items the session has served (the cursor after the last one)."""
        return len(self.state.served)

    @property
    def ahead(self) -> int:
        return len(self.state.served) - self.state.pos

    async def give_back(self) -> None:
        """The client is done with the session (``feed.close``): the items served
        beyond ``pos``, which it never sent an event for, go back to unseen for
        the user (``sessions.replace_tail``), so a later session can serve them.
        Raises ``SessionMoved`` when the session changed hands."""
        if self.ahead > 0:
            await sessions.replace_tail(self.stores, self.state, self.state.pos, [])

    def window_ids(self) -> list[str]:
        """The item the client is on and every item served after it: whose counts matter now."""
        return self.state.served[max(0, self.state.pos - 1) :]

    async def top_up(self, *, save: Save = "now") -> list[Served]:
        """Serve items until ``window`` are ahead of the client (none when that is so
        already). What events changed is saved, by ``save``:

        * ``"now"``: with the items, in their round trip; with no items, alone;
        * ``"with_items"``: with the items; with none, it waits for ``remember``
          (so an event that serves nothing makes no round trip here);
        * ``"later"``: by ``remember`` only. For a caller whose earlier
          ``remember`` may be on its way to Redis with older values: they must
          not land after newer ones written here (the remembers run in order)."""
        need = min(self.state.pos + self.state.window, sessions.MAX_SERVED) - len(self.state.served)
        picks = await self.source.next(need) if need > 0 else []
        if need > 0:
            self.exhausted = not picks and self.ahead <= 0
        if not picks:
            if save == "now" and self.dirty:
                await sessions.save(self.stores, self.state, *self._take_dirty())
            return []
        dirty = self._take_dirty() if save != "later" else ()
        start = len(self.state.served)
        ids = [p.post.id for p in picks]
        # my likes of them are read in the append's round trip
        async with self.stores.redis.pipeline(transaction=False) as pipe:
            count = sessions.append_commands(pipe, self.stores, self.state, ids, save_fields=dirty)
            likes.liked_commands(pipe, self.stores, self.state.user_id, ids)
            replies = await pipe.execute()
        sessions.appended(self.state, ids, replies[:count])
        liked = await likes.liked_from(self.stores, self.state.user_id, ids, replies[count])
        out = []
        for i, pick in enumerate(picks):
            out.append(Served(start + i, pick.post, pick.source, pick.post.id in liked))
        return out

    def _take_dirty(self) -> tuple[str, ...]:
        dirty, self.dirty = tuple(sorted(self.dirty)), set()
        return dirty

    def position(self, post_id: str) -> int | None:
        """Where ``post_id`` is in the session's items, or None when it was not
        served in it. Events are for the items about the client's place, so the
        last ``NEAR_END`` are looked at first, then the rest (both at C speed:
        about 55 µs for ``MAX_SERVED`` items on the 2-core machine). A dict of positions beside
        the list would cost about 75 bytes an item for as long as the session
        lives (``docs/PERFORMANCE.md``, "Memory over time")."""
        served = self.state.served
        near = max(0, len(served) - NEAR_END)
        for start, stop in ((near, len(served)), (0, near)):  # ids are served once: the first found is the one
            try:
                return served.index(post_id, start, stop)
            except ValueError:
                pass
        return None

    def resend(self, cursor: int) -> list[tuple[int, str]]:
        """(index, post id) of the items served at and after ``cursor``."""
        return [(i, self.state.served[i]) for i in range(cursor, len(self.state.served))]

    async def event(self, post_id: str, event: str, watch_ms: int | None = None) -> tuple[PostMeta | None, taste.Signal]:
        """Apply one client event to the session: its position and taste. They are
        saved by the ``top_up`` that must follow or by ``remember``, called
        afterwards (off the path to the next item) for the long-term taste."""
        at = self.position(post_id)
        if at is None:
            raise NotInSession(post_id)
        if at + 1 > self.state.pos:
            self.state.pos = at + 1
            self.dirty.add("pos")
        before = (self.state.interest, len(self.state.muted), len(self.state.topics))
        meta, sig = await self.source.on_event(post_id, event, watch_ms)
        if self.state.interest != before[0]:
            self.dirty.add("interest")
        if len(self.state.muted) != before[1] or len(self.state.topics) != before[2]:
            self.dirty.update(("muted", "topics"))
        return meta, sig

    async def refresh(self) -> None:
        """Work the source left for after the items went out (``ForYou.refresh``)."""
        await self.source.refresh()

    async def remember(self, post_id: str, event: str, meta: PostMeta | None, sig: taste.Signal, *, viewed: bool = False) -> None:
        """The event's mark on the user beyond this session, in one round trip:
        long-term taste (which drops the user's opening, ``feed.serving.openings``),
        hidden posts, with ``viewed`` (the first view of the post in this
        session) the view history, and what events changed in the session and
        ``top_up`` left unsaved. Raises ``SessionMoved`` (after the rest is
        written) when another connection drives the session now, whatever
        the event (one that changed nothing in the session too)."""
        user_id = self.state.user_id
        learns = meta is not None and bool(sig.interest or sig.affinity)
        keeps_taste = hasattr(self.source, "long_term")  # the ranked feed holds the vector it read; others read it here
        if keeps_taste:
            current = self.source.long_term
        else:
            current = await taste.stored(self.stores, user_id) if learns and sig.interest else None
        queued = 0
        dirty = self._take_dirty()
        async with self.stores.redis.pipeline(transaction=False) as pipe:
            # also with nothing to save: the script checks that this connection still
            # drives the session (an impression of the current item moves nothing)
            saves = sessions.save_commands(pipe, self.stores, self.state, dirty)
            if learns:
                updated, queued = taste.record_commands(
                    pipe, self.stores, user_id, author_id=meta.author_id, embedding=meta.embedding, sig=sig, current=current
                )
                if queued:
                    openings.drop_commands(pipe, self.stores, user_id)  # made for the taste before this event
            if viewed:
                views.history_commands(pipe, self.stores, user_id, post_id)
            if event == "not_interested":
                seen.hide_commands(pipe, self.stores, user_id, post_id)
            replies = await pipe.execute()
        if learns:
            if keeps_taste:
                self.source.long_term = updated
            await taste.recorded(self.stores, user_id, sig, replies[saves : saves + queued])
        sessions.saved(self.state, replies[:saves])
