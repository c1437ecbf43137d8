"""The HTTP feed: ``GET /v1/feed?kind=following|for_you`` with cursor pagination.

* ``following``: posts of the people I follow, and mine, newest first; the
  cursor is the id of the previous page's last post.
* ``for_you``: the ranked feed (``feed.serving.for_you``). The first page opens a feed
  session, as the WebSocket stream does; the cursor is ``<session id>.<n>``,
  the place in that session's served list. A page is always the session's
  ``served[n:n + limit]``, made on demand, so the pages never repeat or skip
  an item, and asking for the same cursor again returns the same page.

  A page comes from the user's opening (``feed.serving.openings``: the session's
  first picks, ranked ahead by the opening builder) when there is one, in one
  round trip; otherwise it is ranked here. A cursor ending in ``o`` says the
  next page may come from the opening too (clients pass it back as it is).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from litestar import get
from litestar.params import Parameter
from prometheus_client import Counter

from accounts import graph_cache
from accounts.users import User
from core.errors import BadRequest, Conflict
from core.ids import has_kind
from core.stores import Stores
from feed.ranking import diversity
from feed.serving import openings, sessions
from feed.serving.following import following_feed
from feed.serving.for_you import ForYou, gate, load_session, posts_by_id
from feed.serving.stream import FeedStream
from feed.social.posts import Post, get_posts
from server import feed_items
from server.auth import AUTH
from server.feed_runtime import POOL_REFRESH_S, ready
from server.openapi import errors
from server.post_views import PostView, post_views

PAGES = Counter("fabula_feed_pages", "for_you pages served over HTTP, by where they came from", ["source"])
_FROM_OPENING, _RANKED = PAGES.labels("opening"), PAGES.labels("ranked")
MISSES = Counter("fabula_feed_opening_misses", "for_you pages the user's opening could not serve, by why", ["reason"])
_MISSED = {reason: MISSES.labels(reason) for reason in openings.MISS_REASONS}

_FOR_YOU_CURSOR = re.compile(r"(fs_[0-9a-hjkmnp-tv-z]{26})\.(\d{1,5})(o?)")


class FeedPage(msgspec.Struct):
    kind: str
    data: list[PostView]
    next_cursor: str | None
    object: str = "list"


@get("/v1/feed", dependencies=AUTH, responses=errors(401, 409), tags=["feed"])
async def get_feed(
    stores: Stores,
    user: User,
    kind: Literal["following", "for_you"] = "following",
    cursor: Annotated[str | None, Parameter(max_length=64)] = None,
    limit: Annotated[int, Parameter(ge=1, le=50)] = 20,
) -> FeedPage:
    """``following``: posts of the people I follow, and mine, newest first.
    ``for_you``: the ranked feed, each post once. ``next_cursor`` fetches the next page."""
    if kind == "for_you":
        return await for_you_page(stores, user, cursor, limit)
    if cursor is not None and not _is_post_id(cursor):
        raise BadRequest("invalid cursor: pass the next_cursor of the previous page", code="invalid_cursor")
    following = (await graph_cache.around(stores, user.id)).following  # the shared cache, not a Mongo read per page
    page = await following_feed(stores, user.id, following, cursor=cursor, limit=limit)
    return FeedPage(kind=kind, data=await post_views(stores, page.items, user.id), next_cursor=page.next_cursor)


def _is_post_id(value: str) -> bool:
    # the cursor is the id of the previous page's last post; anything else would
    # silently page from an arbitrary point
    return has_kind(value, "post") and value[5:].isascii() and value[5:].isalnum()


def _bad_cursor(why: str = "pass the next_cursor of the previous page") -> BadRequest:
    return BadRequest(f"invalid cursor: {why}", code="invalid_cursor")


async def for_you_page(stores: Stores, user: User, cursor: str | None, limit: int) -> FeedPage:
    rt = await ready(stores)
    session_id, at, from_opening, taken = None, 0, True, None
    if cursor is not None:
        match = _FOR_YOU_CURSOR.fullmatch(cursor)
        if match is None:
            raise _bad_cursor()
        session_id, at, from_opening = match.group(1), int(match.group(2)), bool(match.group(3))
    await rt.pool.refresh(max_age=POOL_REFRESH_S)
    if from_opening:
        page = await openings.take(stores, user.id, limit=limit, session_id=session_id, at=at)
        if isinstance(page, openings.Miss):
            _MISSED[page.reason].inc()
        else:
            viewer = await rt.viewer(user.id, fof=False)  # to gate the posts, not to rank them
            allowed, _ = await gate(stores, rt.pool, viewer, page.ids)
            if len(allowed) == len(page.ids) and (not page.skipped or await _cap_holds(stores, rt, page, allowed)):
                end = page.start + len(page.ids)
                data = await feed_items.views(stores, rt, user.id, [allowed[pid] for pid in page.ids], liked=page.liked)
                more = "o" if page.left else ""  # (fewer than a page left: the builder is extending it)
                _FROM_OPENING.inc()
                return FeedPage(kind="for_you", data=data, next_cursor=f"{page.session_id}.{end}{more}")
            # a post went away or out of reach since the build (or closing the gaps of those
            # seen since brought an author too near): the session ranks stand-ins
            session_id, at, taken = page.session_id, page.start, (page.ids, allowed)
    # (a marked cursor that missed is often a page asked again: its next cursor keeps the mark)
    viewer = await rt.viewer(user.id)
    return await _ranked_page(stores, rt, user, viewer, session_id, at, limit, taken, keep_mark=from_opening and cursor is not None)


async def _ranked_page(
    stores: Stores, rt, user: User, viewer, session_id: str | None, at: int, limit: int,
    taken: tuple[list[str], dict[str, Post]] | None = None, *, keep_mark: bool = False,
) -> FeedPage:
    """A page ranked here: ``served[at:at + limit]`` of the session (a new one
    when ``session_id`` is None), ranking what it has not served yet.
    ``taken``: the page the opening just gave (``served[at:]``) and those of its
    posts the viewer may still see; the others leave the session first
    (``_close_gaps``) and ranked posts stand in for them.
    ``keep_mark``: the cursor came marked (the next page may come from the
    opening); the next cursor keeps the mark when this page ranked nothing."""
    _RANKED.inc()
    if session_id is None:
        state = sessions.new(stores, user_id=user.id, kind="for_you", window=limit)  # written with its first items
        source = ForYou(stores, rt.pool, state, viewer, rt.viewers(user.id), shared=rt.shortlists, seen_memory=rt.seen_memory)
        await source.prepare()
    else:
        state, started = await load_session(stores, session_id, user.id, rt.pool, rt.shortlists)
        if state is None or state.user_id != user.id or state.kind != "for_you":
            raise _bad_cursor("the feed session expired (after an hour idle); start again without a cursor")
        if at > len(state.served):
            raise _bad_cursor()
        if taken is not None:
            await _close_gaps(stores, rt, state, at, *taken)
        source = ForYou(stores, rt.pool, state, viewer, rt.viewers(user.id), shared=rt.shortlists, seen_memory=rt.seen_memory)
        await source.started(*started)
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
        found = await get_posts(stores, older)
        for post in await rt.visible(user.id)([found[pid] for pid in older if pid in found]):
            made[post.id] = post
    posts = [made[pid] for pid in wanted if pid in made]
    known = {s.post.id: s.liked for s in fresh}
    liked = {pid for pid, v in known.items() if v} if all(known.get(p.id) is not None for p in posts) else None
    data = await feed_items.views(stores, rt, user.id, posts, liked=liked)
    end = at + len(wanted)
    mark = "o" if keep_mark and not fresh and end == len(state.served) else ""
    return FeedPage(kind="for_you", data=data, next_cursor=f"{state.id}.{end}{mark}" if wanted else None)


async def _cap_holds(stores: Stores, rt, page: openings.Page, allowed: dict[str, Post]) -> bool:
    """Whether the author cap holds in a page the opening served with entries
    skipped (seen since the build), after the session's entries before it."""
    before = await posts_by_id(stores, rt.pool, page.before) if page.before else {}
    history = [before[pid].author_id for pid in page.before if pid in before]
    return all(diversity.within_cap([allowed[pid].author_id for pid in page.ids], history))


async def _close_gaps(stores: Stores, rt, state: sessions.SessionState, at: int, ids: list[str], allowed: dict[str, Post]) -> None:
    """The page ``ids`` the opening just served (``served[at:]``) holds posts the
    viewer may no longer see: they leave the session, and so does any later
    entry that closing their gap brings too near another post of its author
    (the author cap holds in what the viewer sees, not only in what was
    ranked). What leaves goes back to unseen; the caller ranks stand-ins."""
    if state.served[at:] != ids:
        raise _busy()  # another request moved the session on meanwhile
    history = state.served[max(0, at - diversity.RULES.author_window + 1) : at]
    before = await posts_by_id(stores, rt.pool, history)
    kept = [pid for pid in ids if pid in allowed]
    keep = diversity.within_cap([allowed[pid].author_id for pid in kept], [before[pid].author_id for pid in history if pid in before])
    try:
        await sessions.replace_tail(stores, state, at, [pid for pid, ok in zip(kept, keep) if ok])
    except sessions.SessionMoved:
        raise _busy() from None


def _busy() -> Conflict:
    return Conflict("this feed session is being read elsewhere; start again without a cursor", code="session_busy")


ROUTES = [get_feed]
