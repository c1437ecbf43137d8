"""A user's next feed session may start from the last one's shortlist
(``feed.for_you.Shared``) instead of building one: only on the same pool,
with the same starting taste, within ``REUSE_S``; and never serving what the
user has been served since, however many posts that was.

In process, on a world of its own (fresh servers, so the pool holds only the
posts made here): the runtime, sessions and streams are the api's own."""

from __future__ import annotations

import pytest

from feed import seen, sessions
from feed.for_you import REUSE_S, ForYou
from feed.stream import FeedStream
from server.feed_runtime import FeedRuntime
from tests.test_ranking import make_authors, make_user, new_world, seed_posts


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


async def open_session(rt: FeedRuntime, user_id: str, *, clock=None) -> tuple[ForYou, FeedStream]:
    state = await sessions.create(rt.stores, user_id=user_id, kind="for_you", window=10)
    extra = {"clock": clock} if clock else {}
    source = ForYou(rt.stores, rt.pool, state, await rt.viewer(user_id), rt.viewers(user_id), shared=rt.shortlists, **extra)
    await source.prepare()
    return source, FeedStream(rt.stores, state, source)


async def test_the_next_session_starts_from_the_shortlist_and_serves_nothing_seen(world):
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 8)])  # more than a shortlist holds
    viewer = (await make_user(world.stores))["user"]["id"]
    rt = FeedRuntime(world.stores)
    await rt.start()
    try:
        await rt.pool.refresh()
        first, stream = await open_session(rt, viewer)
        served_first = [s.post.id for s in await stream.top_up()]
        assert len(served_first) == 10
        shared = rt.shortlists[viewer]
        assert first._shortlist is shared.shortlist

        second, stream2 = await open_session(rt, viewer)
        assert second._shortlist is shared.shortlist  # adopted, not built
        served_second = [s.post.id for s in await stream2.top_up()]
        assert len(served_second) == 10 and not set(served_second) & set(served_first)

        # everything in the shared shortlist seen since (other sessions, other ways): the
        # adopting session checks again and serves none of it
        await seen.mark(world.stores, viewer, list(shared.shortlist.table.ids))
        third, stream3 = await open_session(rt, viewer)
        served_third = [s.post.id for s in await stream3.top_up()]
        assert served_third and not set(served_third) & set(shared.shortlist.table.ids)
        assert third._shortlist is not shared.shortlist

        # too old: built afresh
        later, _ = await open_session(rt, viewer, clock=lambda: rt.shortlists[viewer].shortlist.built_at + REUSE_S + 1)
        assert later._shortlist is None
        # another user never gets it
        other = (await make_user(world.stores))["user"]["id"]
        theirs, _ = await open_session(rt, other)
        assert theirs._shortlist is None
    finally:
        await rt.stop()
