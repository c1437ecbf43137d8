"""Openings (``feed.serving.openings``): the first pages of a user's next for-you
session, ranked ahead by the opening builder (``feed.live.opening_builder``)
and served in one round trip.

In process for the builder and ``take`` (a world of its own, the api's own
runtime), then end to end through ``GET /v1/feed?kind=for_you`` on a live api
with a builder beside it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from accounts import graph_writes
from feed.live.opening_builder import OpeningBuilder
from feed.ranking import diversity
from feed.serving import openings, seen, sessions
from feed.serving.for_you import ForYou
from feed.social import views
from tests.feed.test_ranking import make_authors, make_user, new_world, seed_posts
from tests.feed.test_shortlist_reuse import open_session, runtime_and_viewer


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


async def opening_of(stores, user_id: str) -> list[str]:
    return [v.decode() for v in await stores.redis.lrange(openings.items_key(stores, user_id), 0, -1)]


async def asked(stores) -> list[str]:
    return [m.decode() for m in await stores.redis.zrange(openings.wanted_key(stores), 0, -1)]


async def viewed(stores, user_id: str, *post_ids: str) -> None:
    """The user viewed these posts another way (not through the opening)."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        for post_id in post_ids:
            views.history_commands(pipe, stores, user_id, post_id)
        await pipe.execute()


async def seed_world(stores, n_authors: int = 30, each: int = 3):
    authors = await make_authors(stores, n_authors)
    specs = [{"author_id": a, "caption": f"clip {j} by {a[-5:]} about topic {i % 7}", "age_h": 0.5 * (i * each + j)}
             for i, a in enumerate(authors) for j in range(each)]
    return authors, await seed_posts(stores, specs)


async def test_an_opening_is_what_a_new_session_would_serve_and_pages_take_it_in_order(world):
    await seed_world(world.stores)
    size = openings.REFILL_BELOW + 10  # one page of 10, and the opening is at the refill line
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        builder = OpeningBuilder(world.stores, runtime=rt, size=size)
        assert await builder.build(viewer) == size
        built = await opening_of(world.stores, viewer)
        # the same ranking a new session makes in the api (its own, not sharing the builder's shortlist)
        state = sessions.new(world.stores, user_id=viewer, kind="for_you", window=30)
        by_hand = ForYou(world.stores, rt.pool, state, await rt.viewers.viewer(viewer))
        await by_hand.prepare()
        assert [p.post.id for p in await by_hand.next(size)] == built

        first = await openings.take(world.stores, viewer, limit=10)
        assert isinstance(first, openings.Page) and first.ids == built[:10] and first.start == 0 and first.left == size - 10
        stored = await sessions.load(world.stores, first.session_id)
        assert stored is not None and stored.served == built[:10] and stored.kind == "for_you" and stored.user_id == viewer
        assert stored.window == 10 and stored.pos == 0 and stored.muted == [] and stored.owner
        assert stored.interest == await world.stores.redis.hget(openings.opening_key(world.stores, viewer), "interest")
        # the script writes the session hash the sessions module reads: the same fields, and the opening's
        written = {k.decode() for k in await world.stores.redis.hkeys(sessions.hash_key(world.stores, first.session_id))}
        assert written == set(sessions.hash_fields(stored)) | {"opening", "opening_at"}
        assert await seen.already(world.stores, viewer, built) == set(built[:10])  # marked seen as served
        assert viewer not in await asked(world.stores)  # REFILL_BELOW left: no build needed yet

        # the session's next page continues the sequence
        second = await openings.take(world.stores, viewer, limit=10, session_id=first.session_id, at=10)
        assert isinstance(second, openings.Page) and second.ids == built[10:20] and second.start == 10
        assert (await sessions.load(world.stores, first.session_id)).served == built[:20]
        assert viewer in await asked(world.stores)  # running low: the next build is asked for
        await world.stores.redis.delete(openings.wanted_key(world.stores))
        # a cursor that is not the session's end, or another user's, cannot take from it
        other_session = openings.Miss(openings.OTHER_SESSION)
        assert await openings.take(world.stores, viewer, limit=10, session_id=first.session_id, at=10) == other_session
        other = (await make_user(world.stores))["user"]["id"]
        assert await openings.take(world.stores, other, limit=10, session_id=first.session_id, at=20) == openings.Miss(openings.NO_OPENING)
        assert await openings.take(world.stores, viewer, limit=10, session_id="fs_not-a-session", at=20) == other_session

        # another session takes from it; the first one's cursor no longer continues in it
        again = await openings.take(world.stores, viewer, limit=5)
        assert isinstance(again, openings.Page) and again.ids == built[20:25] and again.session_id != first.session_id
        assert await openings.take(world.stores, viewer, limit=5, session_id=first.session_id, at=20) == other_session
        # a page larger than what is left cannot come from it, but the opening stays, to be extended
        await world.stores.redis.delete(openings.wanted_key(world.stores))
        assert await openings.take(world.stores, viewer, limit=size - 20) == openings.Miss(openings.SHORT)
        assert await opening_of(world.stores, viewer) == built[25:] and await asked(world.stores) == [viewer]
        last = await openings.take(world.stores, viewer, limit=size - 25, session_id=again.session_id, at=5)
        assert isinstance(last, openings.Page) and last.ids == built[25:] and last.left == 0
        await world.stores.redis.delete(openings.wanted_key(world.stores))
        assert await openings.take(world.stores, viewer, limit=5) == openings.Miss(openings.SHORT)  # used up, and asked for again
        assert await asked(world.stores) == [viewer]


async def test_the_asks_claimed_together_are_built_at_once_and_each_as_it_would_be_alone(world):
    await seed_world(world.stores)
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        users = [viewer, *[(await make_user(world.stores))["user"]["id"] for _ in range(3)]]
        builder = OpeningBuilder(world.stores, runtime=rt, size=20)
        in_flight, most = 0, 0
        build_alone = builder.build

        async def observed(user_id: str) -> int:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                return await build_alone(user_id)
            finally:
                in_flight -= 1

        builder.build = observed
        await world.stores.redis.zadd(openings.wanted_key(world.stores), {u: 0 for u in users})
        assert await builder.run_once() == len(users)
        assert most == len(users)  # their round trips overlap
        assert await asked(world.stores) == []
        for user_id in users:
            state = sessions.new(world.stores, user_id=user_id, kind="for_you", window=20)
            by_hand = ForYou(world.stores, rt.pool, state, await rt.viewers.viewer(user_id))
            await by_hand.prepare()
            assert [p.post.id for p in await by_hand.next(20)] == await opening_of(world.stores, user_id)


async def test_an_opening_in_use_is_extended_and_its_session_carries_on_into_it(world):
    _, posts = await seed_world(world.stores, n_authors=45)
    author_of = {p.id: p.author_id for p in posts}
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        builder = OpeningBuilder(world.stores, runtime=rt, size=30)
        await builder.build(viewer)
        before = await openings.current(world.stores, viewer)
        first = await openings.take(world.stores, viewer, limit=10)
        second = await openings.take(world.stores, viewer, limit=10, session_id=first.session_id, at=10)
        assert isinstance(second, openings.Page) and second.left == 10 and viewer in await asked(world.stores)

        assert await builder.build(viewer) == 30  # the 10 left, then 20 more
        after = await openings.current(world.stores, viewer)
        assert after.id == before.id and after.interest == before.interest
        assert after.items[:10] == before.items[20:] and not set(after.items[10:]) & set(before.items)
        # the session that was taking from it carries on, into the new entries too
        third = await openings.take(world.stores, viewer, limit=10, session_id=first.session_id, at=20)
        fourth = await openings.take(world.stores, viewer, limit=10, session_id=first.session_id, at=30)
        assert third.ids == before.items[20:] and fourth.ids == after.items[10:20]
        session = (await sessions.load(world.stores, first.session_id)).served
        assert session == before.items + after.items[10:20] and len(set(session)) == 40
        # the new picks followed the old ones as one session's would: the author cap holds across the seam
        assert diversity.author_cap_holds([author_of[pid] for pid in session], diversity.RULES.author_cap, diversity.RULES.author_window)

        # an extension whose opening moved on meanwhile is not kept
        stale = await openings.current(world.stores, viewer)
        await openings.take(world.stores, viewer, limit=10)  # takes the last 10
        with pytest.raises(openings.Moved):
            await openings.store(world.stores, viewer, [posts[0].id], stale.interest, extends=stale)
        assert await builder.build(viewer) == 30  # so the builder builds a new one
        assert (await openings.current(world.stores, viewer)).id != before.id


async def test_a_stale_opening_is_dropped_and_asked_for_again(world):
    await seed_world(world.stores, n_authors=12)
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        assert await openings.take(world.stores, viewer, limit=5) == openings.Miss(openings.NO_OPENING)
        assert await asked(world.stores) == [viewer]  # a miss asks for a build, due a little later
        assert await openings.wanted(world.stores, 10) == []
        await asyncio.sleep(openings.MISS_DELAY_S)
        assert await openings.wanted(world.stores, 10) == [viewer]

        builder = OpeningBuilder(world.stores, runtime=rt, size=20)
        await builder.build(viewer)
        built = await opening_of(world.stores, viewer)
        # viewed another way after the build: the page skips it, and it leaves the opening
        await viewed(world.stores, viewer, built[2])
        first = await openings.take(world.stores, viewer, limit=5)
        assert isinstance(first, openings.Page) and first.ids == built[:2] + built[3:6]
        assert first.skipped == 1 and first.before == []  # (a new session: nothing before it)
        assert await opening_of(world.stores, viewer) == built[6:]
        # the session's next page, past two seen entries: it is told what the session served before it
        await viewed(world.stores, viewer, built[7], built[9])
        second = await openings.take(world.stores, viewer, limit=5, session_id=first.session_id, at=5)
        assert isinstance(second, openings.Page) and second.ids == [built[6], built[8], *built[10:13]]
        assert second.skipped == 2 and second.before == first.ids
        assert (await sessions.load(world.stores, first.session_id)).served == first.ids + second.ids
        # fewer than a page unseen among the next two pages' entries: the opening is stale, dropped and asked for again
        await world.stores.redis.delete(openings.wanted_key(world.stores))
        await viewed(world.stores, viewer, built[13], built[15], built[17], built[18])
        assert await openings.take(world.stores, viewer, limit=3, session_id=first.session_id, at=10) == openings.Miss(openings.STALE)
        assert await opening_of(world.stores, viewer) == []
        assert await asked(world.stores) == [viewer]
        assert await seen.already(world.stores, viewer, built) == set(built[:14]) | {built[15], built[17], built[18]}  # nothing more served

        # a rebuild leaves the viewed posts out
        await builder.build(viewer)
        rebuilt = await opening_of(world.stores, viewer)
        assert rebuilt and not set(rebuilt) & set(built[:13])
        # a build holding a post served (or viewed) before it was kept is not kept: the builder builds again
        assert await openings.store(world.stores, viewer, [rebuilt[0], built[2]], b"") == {built[2]}
        assert await opening_of(world.stores, viewer) == rebuilt
        # and a session's taste moving drops the opening: its picks were made for the old taste
        _, stream = await open_session(rt, viewer)
        served = await stream.top_up()
        post = served[0].post.id
        meta, sig = await stream.event(post, "like")
        await stream.remember(post, "like", meta, sig)
        assert await opening_of(world.stores, viewer) == []
        assert not await world.stores.redis.exists(openings.opening_key(world.stores, viewer))


async def test_pages_come_from_the_opening_over_http_and_a_block_since_the_build_is_honoured(world):
    _, posts = await seed_world(world.stores, n_authors=45)  # more than an opening holds
    by_id = {p.id: p for p in posts}
    viewer = await make_user(world.stores)
    uid = viewer["user"]["id"]
    api = world.start_api()
    async with runtime_and_viewer(world.stores) as (rt, _), httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        get = lambda **params: http.get("/v1/feed", params={"kind": "for_you", **params}, headers=viewer["headers"])
        ranked = (await get(limit=10)).json()  # no opening yet: ranked in the api, which asks for one
        assert len(ranked["data"]) == 10 and not ranked["next_cursor"].endswith("o")
        assert await asked(world.stores) == [uid]
        builder = OpeningBuilder(world.stores, runtime=rt)
        assert await builder.run_once() == 0  # not due yet: the page that asked was ranking its own
        await asyncio.sleep(openings.MISS_DELAY_S)
        assert await builder.run_once() == 1
        built = await opening_of(world.stores, uid)
        assert len(built) == openings.SIZE and not set(built) & {i["id"] for i in ranked["data"]}

        first = (await get(limit=10)).json()
        assert [i["id"] for i in first["data"]] == built[:10]
        assert first["next_cursor"].endswith("o")
        assert all(i["author"]["id"] == by_id[i["id"]].author_id and i["liked"] is False for i in first["data"])
        second = (await get(limit=10, cursor=first["next_cursor"])).json()
        assert [i["id"] for i in second["data"]] == built[10:20]
        # asking for a page again still gives the same page
        assert (await get(limit=10, cursor=first["next_cursor"])).json() == second

        # the viewer blocks an author of the next page: their posts are replaced, the page stays full
        gone = by_id[built[22]].author_id
        await graph_writes.block(world.stores, uid, gone)
        third = (await get(limit=10, cursor=second["next_cursor"])).json()
        ids = [i["id"] for i in third["data"]]
        assert len(ids) == 10 and all(by_id[pid].author_id != gone for pid in ids)
        kept = [pid for pid in built[20:30] if by_id[pid].author_id != gone]
        before = [by_id[pid].author_id for pid in built[11:20]]
        kept = [pid for pid, ok in zip(kept, diversity.within_cap([by_id[pid].author_id for pid in kept], before)) if ok]
        assert ids[: len(kept)] == kept  # (less any that closing the gap brought too near its author's last post)
        session = [i["id"] for page in (first, second, third) for i in page["data"]]
        assert len(set(session)) == len(session)
        authors_seen = [by_id[pid].author_id for pid in session]
        assert diversity.author_cap_holds(authors_seen, diversity.RULES.author_cap, diversity.RULES.author_window)
        # the rest of the session is ranked in the api and repeats nothing
        fourth = (await get(limit=10, cursor=third["next_cursor"])).json()
        assert not third["next_cursor"].endswith("o") and len(fourth["data"]) == 10
        assert not {i["id"] for i in fourth["data"]} & set(session + [i["id"] for i in ranked["data"]])
        # where pages came from, for operators: the first two pages of the session from the opening; ranked
        # here the page before the build, the second page asked again, the third (stand-ins) and the fourth
        metrics = (await http.get("/metrics")).text
        assert 'fabula_feed_pages_total{source="opening"} 2.0' in metrics
        assert 'fabula_feed_pages_total{source="ranked"} 4.0' in metrics
        # and why the opening missed: none yet for the first; the page asked again is behind its session's end
        # (the third took its page, then ranked stand-ins; the fourth's cursor no longer points at the opening)
        assert 'fabula_feed_opening_misses_total{reason="none"} 1.0' in metrics
        assert 'fabula_feed_opening_misses_total{reason="session"} 1.0' in metrics
        assert 'fabula_feed_opening_misses_total{reason="short"} 0.0' in metrics


@pytest.mark.parametrize("how", ["blocked", "viewed"])
async def test_posts_gone_from_an_opening_page_close_their_gaps_within_the_author_cap(world, how):
    # an opening made under the cap: a's posts at 0, 5 and 10, z's at 3 ...
    a, z, *others = await make_authors(world.stores, 30)
    made = [a, others[0], others[1], z, others[2], a, *others[3:7], a, *others[7:17]]  # a page of 20, and one more
    specs = [{"author_id": author, "caption": f"clip {i} by {author[-5:]}"} for i, author in enumerate(made)]
    specs += [{"author_id": author, "caption": f"more by {author[-5:]}"} for author in others[17:]]  # to stand in
    posts = await seed_posts(world.stores, specs)
    opening = [p.id for p in posts[: len(made)]]
    assert diversity.author_cap_holds(made)
    viewer = await make_user(world.stores)
    uid = viewer["user"]["id"]
    assert await openings.store(world.stores, uid, opening, b"") == set()
    # ... then the viewer blocks z (the gate drops z's post), or watches z's post elsewhere (the page skips it)
    if how == "blocked":
        await graph_writes.block(world.stores, uid, z)
    else:
        await viewed(world.stores, uid, opening[3])
    skipped = int(how == "viewed")
    api = world.start_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        page = (await http.get("/v1/feed", params={"kind": "for_you", "limit": 20}, headers=viewer["headers"])).json()
        metrics = (await http.get("/metrics")).text
    ids = [i["id"] for i in page["data"]]
    by_id = {p.id: p.author_id for p in posts}
    shown = [by_id[pid] for pid in ids]
    # z's post left, and with it a's third post: closing z's gap brought it within ten of a's first
    kept = [pid for i, pid in enumerate(opening[: 20 + skipped]) if i not in (3, 10)]
    assert ids[: len(kept)] == kept and len(ids) == 20 and len(set(ids)) == 20 and z not in shown
    assert diversity.author_cap_holds(shown)  # in what the viewer sees, stand-ins included
    assert 'fabula_feed_pages_total{source="ranked"} 1.0' in metrics  # the stand-ins were ranked in the api
    session = await sessions.load(world.stores, page["next_cursor"].split(".")[0])
    assert session.served == ids  # the session holds what was shown, so its next page ranks from there
    # what left the page without being shown is not counted as seen (z's post: only if viewed elsewhere)
    expected = {opening[3]} if skipped else set()
    assert await seen.already(world.stores, uid, [opening[3], opening[10]]) == expected | ({opening[10]} & set(ids))


async def test_the_builder_outlives_a_failed_claim_and_stops_when_told(world, monkeypatch):
    from feed.live import opening_builder

    monkeypatch.setattr(opening_builder, "ERROR_PAUSE_S", 0.05)
    async with runtime_and_viewer(world.stores) as (rt, _):
        builder = OpeningBuilder(world.stores, runtime=rt)
        calls = []

        async def claim(stores, n):
            calls.append(n)
            if len(calls) == 1:
                raise ConnectionError("Redis went away")
            builder.stop()
            return []

        monkeypatch.setattr(openings, "wanted", claim)
        await asyncio.wait_for(builder.run(), 10)
        assert len(calls) == 2
