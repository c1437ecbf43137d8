"""A user's next feed session may start from the last one's shortlist
(``feed.serving.for_you.Shared``) instead of building one: only on the same pool,
with the same starting taste, within ``REUSE_S``; and never serving what the
user has been served since, however many posts that was.

In process, on a world of its own (fresh servers, so the pool holds only the
posts made here): the runtime, sessions and streams are the api's own."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
from prometheus_client import REGISTRY

from feed.live.runtime import FeedRuntime
from feed.ranking import interest as taste
from feed.ranking.features import unit
from feed.serving import seen, sessions
from feed.serving.for_you import REBUILD_AFTER_S, REBUILD_MIN_S, REUSE_S, ForYou, Shortlist, load_session
from feed.serving.rebuild_slots import RebuildSlots
from feed.serving.stream import FeedStream
from feed.social import views
from tests.feed.test_ranking import make_authors, make_user, new_world, seed_posts


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


@contextlib.asynccontextmanager
async def runtime_and_viewer(stores):
    """A started feed runtime whose pool holds the posts made so far, and a new viewer."""
    viewer = (await make_user(stores))["user"]["id"]
    rt = FeedRuntime(stores)
    await rt.start()
    try:
        await rt.pool.refresh()
        yield rt, viewer
    finally:
        await rt.stop()


async def seed_clips(stores) -> None:
    """Five clips by each of 40 authors: a shortlist's worth and more."""
    authors = await make_authors(stores, 40)
    await seed_posts(stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 5)])


async def open_session(rt: FeedRuntime, user_id: str, *, clock=None) -> tuple[ForYou, FeedStream]:
    state = await sessions.create(rt.stores, user_id=user_id, kind="for_you", window=10)
    extra = {"clock": clock} if clock else {}
    source = ForYou(
        rt.stores, rt.pool, state, await rt.viewers.viewer(user_id), rt.viewers, shared=rt.shortlists, rebuild_slots=rt.rebuild_slots, **extra
    )
    await source.prepare()
    return source, FeedStream(rt.stores, state, source)


async def test_the_next_session_starts_from_the_shortlist_and_serves_nothing_seen(world):
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 8)])  # more than a shortlist holds
    async with runtime_and_viewer(world.stores) as (rt, viewer):
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


async def resume(rt: FeedRuntime, user_id: str, session_id: str) -> tuple[ForYou, FeedStream]:
    """The session as a cursor page or a reconnect takes it up: loaded from Redis
    with what it starts from, into a new source."""
    state, started = await load_session(rt.stores, session_id, user_id, rt.pool, rt.shortlists)
    source = ForYou(rt.stores, rt.pool, state, await rt.viewers.viewer(user_id), rt.viewers, shared=rt.shortlists)
    await source.started(*started)
    return source, FeedStream(rt.stores, state, source)


async def test_a_resumed_session_takes_up_the_shortlist_while_its_taste_is_unchanged(world):
    """The next page of a session (an HTTP cursor, a reconnect) starts from the
    user's shortlist as a new session does, and serves nothing already served;
    once an event has moved the session's taste, it builds its own."""
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 8)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        _, stream = await open_session(rt, viewer)
        served = [s.post.id for s in await stream.top_up()]
        shared = rt.shortlists[viewer]

        again, stream2 = await resume(rt, viewer, stream.state.id)
        assert again._shortlist is shared.shortlist  # taken up, not built
        stream2.state.pos = len(served)  # the client reached the end of the first page
        more = [s.post.id for s in await stream2.top_up()]
        assert len(more) == 10 and not set(more) & set(served)
        assert stream2.state.served == served + more

        meta, sig = await stream2.event(more[0], "like")  # the taste moves, and the session keeps it
        assert sig.interest and meta.embedding is not None
        await sessions.save(world.stores, stream2.state, "interest")
        moved, stream3 = await resume(rt, viewer, stream.state.id)
        assert moved._shortlist is None
        stream3.state.pos = len(served + more)
        later = [s.post.id for s in await stream3.top_up()]
        assert later and not set(later) & set(served + more)
        assert moved._shortlist is not shared.shortlist


async def test_a_session_serves_nothing_twice_when_the_pool_rows_move_under_its_shortlist(world):
    """What is still available in a shortlist is read off the pool's column of
    excluded rows while the pool stands as it did at the build; new posts and
    deletes move the rows, and the session must then still skip what it served."""
    authors = await make_authors(world.stores, 30)
    posts = await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i}"} for i, a in enumerate(authors * 5)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, stream = await open_session(rt, viewer)
        served = [s.post.id for s in await stream.top_up()]
        shortlist = source._shortlist
        assert len(served) == 10 and shortlist is not None and shortlist.pool_version == rt.pool.version

        # the rows move: newer posts come in, some not yet served leave
        await seed_posts(world.stores, [{"author_id": a, "caption": f"late {a[-4:]}"} for a in authors[:5]])
        await rt.pool.refresh()
        unserved = [p.id for p in posts if p.id not in served]
        rt.pool.drop(unserved[:3])
        assert rt.pool.version != shortlist.pool_version

        for pid in served[:10]:  # the client moves on: one new item per impression
            await stream.event(pid, "impression")
            served += [s.post.id for s in await stream.top_up()]
        assert source._shortlist is shortlist  # the same shortlist, read the slow way
        assert len(served) == 20 and len(set(served)) == 20
        assert not set(served[10:]) & set(unserved[:3])


async def test_an_events_after_effects_reach_the_users_taste_history_and_hidden_set(world):
    """``FeedStream.remember`` writes the long-term taste, the view history and
    the hidden set in one round trip: each must land, and only where the event says."""
    authors = await make_authors(world.stores, 6)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} of the harbour at dusk"} for i, a in enumerate(authors * 3)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, stream = await open_session(rt, viewer)
        served = await stream.top_up()
        watched, unwanted = served[0].post, next(s.post for s in served if s.post.author_id != served[0].post.author_id)

        meta, sig = await stream.event(watched.id, "complete")
        await stream.remember(watched.id, "complete", meta, sig, viewed=True)
        long_term, affinity = await taste.load(world.stores, viewer)
        assert long_term is not None and np.allclose(long_term, source.long_term)  # stored, and the session holds what it stored
        assert affinity[watched.author_id] > 0
        assert await views.seen_posts(world.stores, viewer) == [watched.id]
        assert await seen.already(world.stores, viewer, [watched.id]) == {watched.id}

        meta, sig = await stream.event(unwanted.id, "not_interested")
        await stream.remember(unwanted.id, "not_interested", meta, sig)
        _, affinity = await taste.load(world.stores, viewer)
        assert affinity[unwanted.author_id] < 0
        assert await stores_members(world.stores, seen.hidden_key(world.stores, viewer)) == {unwanted.id}
        assert await views.seen_posts(world.stores, viewer) == [watched.id]  # not viewed: not in the history


async def stores_members(stores, key: str) -> set[str]:
    return {m.decode() for m in await stores.redis.smembers(key)}


@pytest.mark.parametrize("defer", [True, False])
async def test_a_rebuild_the_taste_calls_for_waits_for_refresh_when_deferred(world, defer):
    """With ``defer_rebuilds`` (the swipe stream) a shortlist the taste drifted
    from keeps serving the next pick and is rebuilt by ``refresh``, off the
    path to the next item; without, the pick itself rebuilds it."""
    await seed_clips(world.stores)
    now = [1_000_000_000.0]
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, stream = await open_session(rt, viewer, clock=lambda: now[0])
        source.defer_rebuilds = defer
        served = [s.post.id for s in await stream.top_up()]
        built = source._shortlist
        assert built is not None and len(served) == 10

        embeddings = rt.pool.table.embeddings
        start = unit(source.interest)
        far = embeddings[0] if start is None else embeddings[int(np.argmin(embeddings @ start))]
        source.interest = far.copy()  # a taste the shortlist was not built for
        now[0] += REBUILD_MIN_S + 1
        await stream.event(served[0], "impression")
        served += [s.post.id for s in await stream.top_up()]
        assert len(served) == 11
        if defer:
            assert source._shortlist is built and source.rebuild_due
            await stream.refresh()
        assert source._shortlist is not built and not source.rebuild_due
        assert float(unit(far) @ source._shortlist.interest) > 0.99  # built for the taste as it is now
        for pid in served[1:10]:
            await stream.event(pid, "impression")
            served += [s.post.id for s in await stream.top_up()]
        assert len(served) == 20 and len(set(served)) == 20


def test_rebuild_slots_hand_out_at_most_their_number():
    slots = RebuildSlots(2)
    assert slots.take() and slots.take()
    assert not slots.take() and slots.running == 2
    slots.give()
    assert slots.take() and not slots.take()
    with pytest.raises(ValueError):
        RebuildSlots(0)


@contextlib.asynccontextmanager
async def one_slot_and_drifted_sessions(world, users: int):
    """A runtime with one rebuild slot over ``seed_clips``, and ``users``
    sessions whose rebuilds are due (``drifted_sessions``); yields the
    runtime, the sessions and the clock."""
    await seed_clips(world.stores)
    now = [1_000_000_000.0]
    async with runtime_and_viewer(world.stores) as (rt, first_user):
        rt.rebuild_slots = RebuildSlots(1)
        ids = [first_user] + [(await make_user(world.stores))["user"]["id"] for _ in range(users - 1)]
        yield rt, await drifted_sessions(rt, ids, now), now


def builds(reason: str) -> float:
    return REGISTRY.get_sample_value("fabula_feed_shortlist_builds_total", {"reason": reason}) or 0.0


async def drifted_sessions(rt: FeedRuntime, users: list[str], now: list[float]) -> list[tuple[ForYou, FeedStream, Shortlist, str]]:
    """A deferred-rebuild session per user, served a page, whose taste then
    turned away from its shortlist: each pick after this finds a rebuild due."""
    opened = []
    for user in users:
        source, stream = await open_session(rt, user, clock=lambda: now[0])
        source.defer_rebuilds = True
        served = [s.post.id for s in await stream.top_up()]
        opened.append((source, stream, source._shortlist, served[0]))
    now[0] += REBUILD_MIN_S + 1
    for source, stream, built, first in opened:
        embeddings = rt.pool.table.embeddings
        start = unit(source.interest)
        source.interest = (embeddings[0] if start is None else embeddings[int(np.argmin(embeddings @ start))]).copy()
        await stream.event(first, "impression")
        assert await stream.top_up()
        assert source.rebuild_due and source._shortlist is built  # due, and left for refresh
    return opened


async def test_deferred_rebuilds_run_no_more_at_once_than_the_processs_slots(world):
    """Sessions that all find a rebuild due at once (a wave of reconnects) do
    not all rebuild at once: while one slot's rebuild is in flight, the other
    sessions' refreshes leave theirs due, keep serving from the shortlist they
    hold, and rebuild at a later refresh once the slot is free."""
    async with one_slot_and_drifted_sessions(world, 3) as (rt, opened, _):
        assert all(source.rebuild_slots is rt.rebuild_slots for source, *_ in opened)
        (first, _, first_built, _), *others = opened

        release = asyncio.Event()
        build = first._build

        async def slow_build(*args):  # a rebuild still in flight (the catalogue search, the seen check)
            await release.wait()
            return await build(*args)

        first._build = slow_build
        in_flight = asyncio.create_task(first.refresh())
        await asyncio.sleep(0)
        assert rt.rebuild_slots.running == 1
        busy_before = builds("later, slots busy")
        for source, stream, built, _ in others:
            await source.refresh()
            assert source.rebuild_due and source._shortlist is built  # left for later
            assert await stream.top_up() == [] and source._shortlist is built  # (the window is full; nothing rebuilt on the way)
        assert builds("later, slots busy") == busy_before + 2

        release.set()
        await in_flight
        assert first._shortlist is not first_built and not first.rebuild_due and rt.rebuild_slots.running == 0
        for source, _, built, _ in others:  # the slot is free: the next refresh rebuilds
            await source.refresh()
            assert source._shortlist is not built and not source.rebuild_due
        assert rt.rebuild_slots.running == 0


async def test_a_rebuild_left_waiting_too_long_comes_on_the_pick_and_is_not_made_twice(world):
    """A session whose deferred rebuild keeps finding the slots taken is not
    served from an old shortlist for ever: past twice ``REBUILD_AFTER_S`` the
    pick rebuilds it, and the refresh after that has nothing left to do."""
    async with one_slot_and_drifted_sessions(world, 1) as (rt, [(source, stream, built, _)], now):
        assert rt.rebuild_slots.take()  # another session's rebuild holds the one slot throughout
        await source.refresh()
        assert source.rebuild_due and source._shortlist is built

        now[0] += 2 * REBUILD_AFTER_S + 1
        await stream.event(stream.state.served[1], "impression")
        assert await stream.top_up()
        rebuilt = source._shortlist
        assert rebuilt is not built and not source.rebuild_due  # on the pick, without a slot
        await source.refresh()
        assert source._shortlist is rebuilt  # nothing rebuilt twice


async def test_a_failed_deferred_rebuild_gives_its_slot_back(world, monkeypatch):
    async with one_slot_and_drifted_sessions(world, 1) as (rt, [(source, _, built, _)], _):

        async def broken(*_):
            raise ConnectionError("the store went away")

        monkeypatch.setattr(source, "_build", broken)
        with pytest.raises(ConnectionError):
            await source.refresh()
        assert rt.rebuild_slots.running == 0 and source._shortlist is built
        monkeypatch.undo()
        source.rebuild_due = True
        await source.refresh()
        assert source._shortlist is not built


async def serve_rounds(source: ForYou, rounds: int, *, rebuild: bool = False) -> list[str]:
    """Ten picks a round; with ``rebuild``, each round from a shortlist built
    for it (as when the last is used up, old or drifted)."""
    served: list[str] = []
    for _ in range(rounds):
        if rebuild:
            source._shortlist = None
        picks = await source.next(10)
        assert picks
        served += [p.post.id for p in picks]
    return served


async def test_what_a_session_remembers_of_served_posts_holds_no_shortlist_or_pool(world):
    """The embeddings a session keeps of the posts it served (to learn from
    the events on them) are those posts' own: not views into the shortlist
    or pool arrays they were read from, which would keep every shortlist the
    session ever built alive for as long as the session lasts (a 10-minute
    run of 500 swipers grew the api by 1.9 GB so)."""
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 8)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, _ = await open_session(rt, viewer)
        served = await serve_rounds(source, 4, rebuild=True)
        other, _ = await open_session(rt, (await make_user(world.stores))["user"]["id"])
        await other.learn(served)  # a resumed session learns what it served, from the pool
        for session in (source, other):
            held = {}
            for meta in session.meta.values():
                if meta.embedding is not None:
                    base = meta.embedding if meta.embedding.base is None else meta.embedding.base
                    held[id(base)] = base.nbytes
            served = len(session.meta)
            assert served >= 30
            assert sum(held.values()) <= served * 384 * 4, f"{sum(held.values())} bytes held for {served} posts"


async def test_a_long_session_keeps_what_it_knows_of_its_last_posts_only(world, monkeypatch):
    """Each served post's author and embedding are kept for the events on it;
    a session that lasts keeps the last ``META_KEPT`` of them, and an event on
    an older post learns it again."""
    from feed.serving import for_you

    monkeypatch.setattr(for_you, "META_KEPT", 8)
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 2)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, _ = await open_session(rt, viewer)
        served = await serve_rounds(source, 4)
        assert len(served) == 40
        assert len(source.meta) <= 10 and served[-1] in source.meta and served[0] not in source.meta
        meta, sig = await source.on_event(served[0], "like", None)  # learnt again, from the pool
        assert meta is not None and meta.embedding is not None and sig.interest


async def test_a_long_session_forgets_which_posts_it_found_unseen_and_checks_again(world, monkeypatch):
    """The ids a session found unseen are a cache of the seen check; past
    ``CHECKED_KEPT`` it is emptied, and what the user saw meanwhile is still
    never served."""
    from feed.serving import for_you

    monkeypatch.setattr(for_you, "CHECKED", 20)  # candidates checked per build
    monkeypatch.setattr(for_you, "CHECKED_KEPT", 30)
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 4)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, _ = await open_session(rt, viewer)
        served = await serve_rounds(source, 2, rebuild=True)
        seen_elsewhere = [pid for pid in rt.pool.table.ids if pid not in served][:40]
        await seen.mark(world.stores, viewer, seen_elsewhere)  # seen in another session meanwhile
        served += await serve_rounds(source, 4, rebuild=True)
        assert len(source.checked) <= 30 + 20
        assert len(served) == len(set(served)) and not set(served[20:]) & set(seen_elsewhere)


async def test_a_long_session_keeps_what_its_tail_and_window_need(world):
    """``META_KEPT`` as shipped: bounded well under what a 10-minute session
    serves (about 200 posts at a 3 s dwell, which the earlier bound of 256
    never reached), yet every post of the diversity tail and of a full
    window is still known without a read."""
    from feed.serving import for_you
    from server.ws.feed_session import MAX_WINDOW

    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 4)])
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        source, _ = await open_session(rt, viewer)
        assert for_you.META_KEPT >= source.tail_size + MAX_WINDOW
        served = await serve_rounds(source, 12, rebuild=True)
        assert len(served) == 120
        assert len(source.meta) <= for_you.META_KEPT + for_you.META_KEPT // 4 + 10
        assert len(source.meta) < len(served) // 2  # the bound bites within a few minutes of swiping
        assert all(pid in source.meta for pid in served[-(source.tail_size + MAX_WINDOW):])
        authors_tail, _, _ = source._history(served)  # served by the stream, the tail would be state.served's
        assert authors_tail and "" not in authors_tail


async def test_a_process_forgets_shortlists_too_old_to_take_over(world):
    """Each user's last shortlist is kept for their next session only while it
    may be taken over (``REUSE_S``): the process holds its recent users'
    shortlists, not one for everyone it ever served."""
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 4)])
    now = [1_000_000_000.0]
    async with runtime_and_viewer(world.stores) as (rt, first_user):
        users = [first_user] + [(await make_user(world.stores))["user"]["id"] for _ in range(3)]

        async def build(user: str, at: float) -> None:
            source, _ = await open_session(rt, user, clock=lambda: at)
            assert await source.next(1)

        for user in users[:3]:
            await build(user, now[0])
            now[0] += 1.0
        assert list(rt.shortlists) == users[:3]
        now[0] = rt.shortlists[users[1]].shortlist.built_at + REUSE_S + 0.5  # the first two are too old, the third is not
        await build(users[3], now[0])
        assert list(rt.shortlists) == users[2:]
        # a user building again moves to the end, so the order stays the order of building
        await build(users[2], now[0] + 1.0)
        assert list(rt.shortlists) == [users[3], users[2]]


async def test_a_full_process_drops_its_oldest_shortlist_not_all_of_them(world, monkeypatch):
    from feed.serving import for_you

    monkeypatch.setattr(for_you, "SHARED_MAX", 2)
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 2)])
    async with runtime_and_viewer(world.stores) as (rt, first_user):
        users = [first_user] + [(await make_user(world.stores))["user"]["id"] for _ in range(2)]
        for user in users:
            source, _ = await open_session(rt, user)
            assert await source.next(1)
        assert list(rt.shortlists) == users[1:]


@pytest.mark.parametrize("deferred", [False, True])
async def test_rebuilds_of_moved_tastes_still_let_the_process_forget_old_shortlists(world, deferred):
    """Sessions all opened at once share their first shortlists; then every
    taste moves, so none of their rebuilds is shared. Those rebuilds must still
    drop the shared shortlists too old to take over: otherwise each swiper's
    first shortlist (about 200 KB) stays in the process beside the one it
    serves from, for as long as no new session opens."""
    authors = await make_authors(world.stores, 40)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 6)])
    now = [1_000_000_000.0]
    async with runtime_and_viewer(world.stores) as (rt, first_user):
        users = [first_user] + [(await make_user(world.stores))["user"]["id"] for _ in range(2)]
        opened = []
        for user in users:
            source, stream = await open_session(rt, user, clock=lambda: now[0])
            source.defer_rebuilds = deferred
            served = [s.post.id for s in await stream.top_up()]
            await stream.event(served[0], "like")  # the taste moves: this session's rebuilds are its own
            opened.append((source, stream))
        assert list(rt.shortlists) == users
        first = {user: rt.shortlists[user].shortlist for user in users}

        now[0] += REUSE_S + 1.0  # every shared shortlist is too old to take over, and due for age
        for source, stream in opened:
            stream.state.pos = len(stream.state.served)
            assert await stream.top_up()
            await source.refresh()  # (deferred: the rebuild happens here)
            assert source._shortlist is not first[source.viewer.user_id]  # rebuilt, not shared
        assert list(rt.shortlists) == []
