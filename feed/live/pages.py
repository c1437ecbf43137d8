"""For-you pages, one path for the HTTP feed and the WebSocket stream.

A page is the session's ``served[at:at + limit]``, made on demand, so pages
never repeat or skip an item, and asking for the same place again returns
the same page.

* **From the opening** (``feed.serving.openings``: the session's first picks,
  ranked ahead by the opening builder), when the caller may take from it: in
  one round trip. The posts are gated as every pick is (deleted, hidden from
  the viewer, behind a block); when entries seen since the build were
  skipped, closing their gaps must keep the author cap.
* **Ranked here** otherwise, and when the opening's page lost a post or the
  cap: the posts it may no longer show leave the session first, with any
  later entry that closing their gap brings too near another post of its
  author (``_close_gaps``), and ranked posts stand in for them.

Posts served earlier in a session (a page asked again, the WebSocket's
resend on resume) are read again and checked as the routes check them:
``served_again``.

``fabula_feed_pages_total{source}`` counts where pages came from,
``fabula_feed_opening_misses_total{reason}`` why the opening could not
serve one."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from core.errors import BadRequest, Conflict
from core.stores import Stores
from feed.live import ranker
from feed.live.runtime import POOL_REFRESH_S, FeedRuntime
from feed.ranking import diversity
from feed.serving import openings, sessions
from feed.serving.for_you import gate, load_session, posts_by_id
from feed.serving.stream import FeedStream
from feed.social.posts import Post, get_posts
from feed.social.visibility import visible_posts
from feed.viewer import Viewer

PAGES = Counter("fabula_feed_pages", "for_you pages served over HTTP, by where they came from", ["source"])
_FROM_OPENING, _RANKED = PAGES.labels("opening"), PAGES.labels("ranked")
MISSES = Counter("fabula_feed_opening_misses", "for_you pages the user's opening could not serve, by why", ["reason"])
_MISSED = {reason: MISSES.labels(reason) for reason in openings.MISS_REASONS}


@dataclass
class Page:
    posts: list[Post]
    liked: set[str] | None  # the viewer's likes among them, when read with them (None: not read)
    session_id: str
    next_at: int | None  # the session's place after the page; None: the page served nothing
    marked: bool  # the next page may come from the opening too


async def for_you_page(rt: FeedRuntime, user_id: str, limit: int, cursor: tuple[str, int, bool] | None) -> Page:
    """The next for-you page of ``user_id``: a new session's first when
    ``cursor`` is None, else ``(session id, at, marked)``, where ``marked``
    says the page may come from the opening."""
    stores = rt.stores
    session_id, at, from_opening = cursor if cursor is not None else (None, 0, True)
    taken = None
    await rt.pool.refresh(max_age=POOL_REFRESH_S)
    if from_opening:
        page = await openings.take(stores, user_id, limit=limit, session_id=session_id, at=at)
        if isinstance(page, openings.Miss):
            _MISSED[page.reason].inc()
        else:
            viewer = await rt.viewers.viewer(user_id, fof=False)  # to gate the posts, not to rank them
            allowed, _ = await gate(stores, rt.pool, viewer, page.ids)
            if len(allowed) == len(page.ids) and (not page.skipped or await _cap_holds(rt, page, allowed)):
                _FROM_OPENING.inc()
                # (fewer than a page left: the builder is extending it)
                return Page(
                    [allowed[pid] for pid in page.ids], page.liked, page.session_id, page.start + len(page.ids), bool(page.left)
                )
            # a post went away or out of reach since the build (or closing the gaps of those
            # seen since brought an author too near): the session ranks stand-ins
            session_id, at, taken = page.session_id, page.start, (page.ids, allowed)
    # (a marked cursor that missed is often a page asked again: its next cursor keeps the mark)
    viewer = await rt.viewers.viewer(user_id)
    return await _ranked_page(rt, user_id, viewer, session_id, at, limit, taken, keep_mark=from_opening and cursor is not None)


async def _ranked_page(
    rt: FeedRuntime, user_id: str, viewer: Viewer, session_id: str | None, at: int, limit: int,
    taken: tuple[list[str], dict[str, Post]] | None = None, *, keep_mark: bool = False,
) -> Page:
    """A page ranked here: ``served[at:at + limit]`` of the session (a new one
    when ``session_id`` is None), ranking what it has not served yet.
    ``taken``: the page the opening just gave (``served[at:]``) and those of its
    posts the viewer may still see; the others leave the session first
    (``_close_gaps``) and ranked posts stand in for them.
    ``keep_mark``: the cursor came marked (the next page may come from the
    opening); the next cursor keeps the mark when this page ranked nothing."""
    stores = rt.stores
    _RANKED.inc()
    if session_id is None:
        state = sessions.new(stores, user_id=user_id, kind="for_you", window=limit)  # written with its first items
        source = await ranker.open_for_you(rt, state, viewer)
    else:
        state, started = await load_session(stores, session_id, user_id, rt.pool, rt.shortlists)
        if state is None or state.user_id != user_id or state.kind != "for_you":
            raise _bad_cursor("the feed session expired (after an hour idle); start again without a cursor")
        if at > len(state.served):
            raise _bad_cursor()
        if taken is not None:
            await _close_gaps(rt, state, at, *taken)
        source = await ranker.open_for_you(rt, state, viewer, started)
    state.pos = max(state.pos, at)
    state.window = limit

    stream = FeedStream(stores, state, source)
    stream.dirty.update(("pos", "window", "interest"))
    try:
        fresh = await stream.top_up()
    except sessions.SessionMoved:
        raise _busy() from None
    except sessions.SessionFull:
        fresh = []

    wanted = state.served[at : at + limit]
    made = {s.post.id: s.post for s in fresh}
    older = [pid for pid in wanted if pid not in made]
    if older:
        made.update(await served_again(stores, user_id, older))
    posts = [made[pid] for pid in wanted if pid in made]
    known = {s.post.id: s.liked for s in fresh}
    liked = {pid for pid, v in known.items() if v} if all(known.get(p.id) is not None for p in posts) else None
    end = at + len(wanted)
    return Page(posts, liked, state.id, end if wanted else None, keep_mark and not fresh and end == len(state.served))


async def served_again(stores: Stores, viewer_id: str, post_ids: list[str]) -> dict[str, Post]:
    """The posts among ``post_ids`` (served earlier in a session) that still
    exist and the viewer may see now, read and checked as the routes check
    them."""
    found = await get_posts(stores, post_ids)
    return {p.id: p for p in await visible_posts(stores, [found[pid] for pid in post_ids if pid in found], viewer_id)}


async def _cap_holds(rt: FeedRuntime, page: openings.Page, allowed: dict[str, Post]) -> bool:
    """Whether the author cap holds in a page the opening served with entries
    skipped (seen since the build), after the session's entries before it."""
    before = await posts_by_id(rt.stores, rt.pool, page.before) if page.before else {}
    history = [before[pid].author_id for pid in page.before if pid in before]
    return all(diversity.within_cap([allowed[pid].author_id for pid in page.ids], history))


async def _close_gaps(rt: FeedRuntime, state: sessions.SessionState, at: int, ids: list[str], allowed: dict[str, Post]) -> None:
    """The page ``ids`` the opening just served (``served[at:]``) holds posts the
    viewer may no longer see: they leave the session, and so does any later
    entry that closing their gap brings too near another post of its author
    (the author cap holds in what the viewer sees, not only in what was
    ranked). What leaves goes back to unseen; the caller ranks stand-ins."""
    if state.served[at:] != ids:
        raise _busy()  # another request moved the session on meanwhile
    history = state.served[max(0, at - diversity.RULES.author_window + 1) : at]
    before = await posts_by_id(rt.stores, rt.pool, history)
    kept = [pid for pid in ids if pid in allowed]
    keep = diversity.within_cap([allowed[pid].author_id for pid in kept], [before[pid].author_id for pid in history if pid in before])
    try:
        await sessions.replace_tail(rt.stores, state, at, [pid for pid, ok in zip(kept, keep) if ok])
    except sessions.SessionMoved:
        raise _busy() from None


def _bad_cursor(why: str = "pass the next_cursor of the previous page") -> BadRequest:
    return BadRequest(f"invalid cursor: {why}", code="invalid_cursor")


def _busy() -> Conflict:
    return Conflict("this feed session is being read elsewhere; start again without a cursor", code="session_busy")
