"""A process remembers which posts its seen checks found seen
(``feed.serving.seen_memory``): the user's next shortlist leaves them out before it
checks the rest, and still serves nothing seen. Bounded by users and by
posts per user.

The sessions run in process on a world of their own, against its real
Valkey; the seen check is observed (wrapped, not replaced) to see which ids it
was asked about."""

from __future__ import annotations

import random

import pytest

from feed.serving import seen, sessions
from feed.serving.for_you import ForYou
from feed.serving.seen_memory import SeenMemory
from tests.feed.test_ranking import make_authors, new_world, seed_posts
from tests.feed.test_shortlist_reuse import runtime_and_viewer


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


def test_memory_is_bounded_by_users_and_by_posts_per_user():
    memory = SeenMemory(users=2, per_user=5)
    memory.learn("u1", ["p1", "p2"])
    memory.learn("u2", ["p3"])
    assert memory.of("u1") == {"p1", "p2"}  # u1 is now the most recently used
    memory.learn("u3", ["p4"])
    assert len(memory) == 2
    assert memory.of("u2") == set()  # the least recently used went first
    assert memory.of("u1") == {"p1", "p2"}
    memory.learn("u1", ["p5", "p6", "p7"])
    assert memory.of("u1") == {"p1", "p2", "p5", "p6", "p7"}
    memory.learn("u1", ["p8"])  # past its bound: the user starts over
    assert memory.of("u1") == {"p8"}
    memory.learn("u1", [])
    assert memory.of("u1") == {"p8"}
    memory.learn("u4", [f"x{i}" for i in range(9)])  # more than a user holds: a bounded share of them
    assert len(memory.of("u4")) == 5


@pytest.mark.parametrize("remembering", [True, False], ids=["with a memory", "without one"])
async def test_a_next_session_does_not_check_again_what_was_found_seen(world, monkeypatch, remembering):
    authors = await make_authors(world.stores, 40)
    posts = await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i} by {a[-4:]}"} for i, a in enumerate(authors * 8)])
    checked: list[list[str]] = []
    real_check = seen.already

    async def observed(stores, user_id, post_ids):
        checked.append(list(post_ids))
        return await real_check(stores, user_id, post_ids)

    monkeypatch.setattr(seen, "already", observed)
    async with runtime_and_viewer(world.stores) as (rt, viewer):
        watched = {p.id for p in random.Random(5).sample(posts, 200)}  # seen elsewhere: most of the best candidates
        await seen.mark(world.stores, viewer, sorted(watched))
        memory = SeenMemory() if remembering else None

        async def a_session() -> list[str]:
            state = sessions.new(world.stores, user_id=viewer, kind="for_you", window=10)
            source = ForYou(world.stores, rt.pool, state, await rt.viewers.viewer(viewer), seen_memory=memory)  # no shared shortlist: it builds
            await source.prepare()
            return [p.post.id for p in await source.next(10)]

        first = await a_session()
        found_seen = {pid for ids in checked for pid in ids} & watched
        assert found_seen, "the first session's checks met none of the posts seen elsewhere"
        checked.clear()
        second = await a_session()

    assert not (set(first) | set(second)) & watched  # nothing seen is served, either way
    asked_again = {pid for ids in checked for pid in ids} & found_seen
    if remembering:
        assert memory.of(viewer) >= found_seen
        assert not asked_again
    else:
        assert asked_again  # the same posts are checked, and found seen, again
