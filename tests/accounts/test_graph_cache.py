"""The shared cache of the graph around a user (``accounts.graph_cache``), on
the session's real Valkey and nx-27017: served from Redis once read, dropped
by every follow and block change, and never storing a graph that a change
raced past."""

from __future__ import annotations

import uuid

from accounts import graph, graph_cache, graph_writes, users


async def _users(stores, n: int) -> list[str]:
    return [(await users.create_user(stores, f"g{uuid.uuid4().hex[:12]}", "x")).id for _ in range(n)]


async def test_the_graph_is_read_once_then_served_from_redis_until_an_edge_changes(stores):
    me, a, b, c = await _users(stores, 4)
    await graph_writes.follow(stores, me, a)
    await graph_writes.block(stores, c, me)
    first = await graph_cache.around(stores, me)
    assert first.following == [a] and first.blocked == [c]

    # written behind the module's back: the cached copy is what comes back (proof it is cached)
    await stores.db.follows.insert_one({"_id": f"{me}:{b}", "follower": me, "followee": b, "k": "0" * 26})
    assert (await graph_cache.around(stores, me)).following == [a]

    await graph_writes.unblock(stores, c, me)  # a real change drops the entry: the next read sees everything
    now = await graph_cache.around(stores, me)
    assert set(now.following) == {a, b} and now.blocked == []

    await graph_writes.follow(stores, me, c)
    assert set((await graph_cache.around(stores, me)).following) == {a, b, c}
    await graph_writes.block(stores, me, a)  # drops the follow too
    after = await graph_cache.around(stores, me)
    assert set(after.following) == {b, c} and after.blocked == [a]
    # the other side's entry went as well
    assert (await graph_cache.around(stores, a)).blocked == [me]


async def test_a_change_that_lands_during_a_read_is_not_overwritten_by_that_read(stores, monkeypatch):
    me, a = await _users(stores, 2)
    await graph_cache.around(stores, me)  # cached: follows nobody
    real = graph.following_ids
    raced = False

    async def slow_read(stores_, user_id):
        nonlocal raced
        found = await real(stores_, user_id)  # the graph as it was ...
        if not raced:
            raced = True
            await graph_writes.follow(stores_, me, a)  # ... then a follow lands before the read stores it
        return found

    await graph_cache.invalidate(stores, [me])
    monkeypatch.setattr(graph, "following_ids", slow_read)
    stale = await graph_cache.around(stores, me)
    assert stale.following == []  # this one read saw the old graph ...
    assert await stores.redis.get(graph_cache._entry_key(stores, me)) is None  # ... and did not store it
    monkeypatch.setattr(graph, "following_ids", real)
    assert (await graph_cache.around(stores, me)).following == [a]


async def test_friends_of_friends_leave_out_me_and_whom_i_follow_and_are_kept_ten_minutes(stores):
    me, a, b, x, y = await _users(stores, 5)
    for follower, followee in [(me, a), (me, b), (a, x), (a, me), (b, y), (b, a)]:
        await graph_writes.follow(stores, follower, followee)
    assert await graph_cache.friends_of_friends(stores, me, [a, b], fanout=10, limit=100) == {x, y}
    await stores.redis.delete(stores.key("graph", "fof", me))
    assert await graph_cache.friends_of_friends(stores, me, [a], fanout=1, limit=100) == {x}
    await graph_writes.unfollow(stores, a, x)  # not invalidated: a weak signal, kept for its ten minutes
    assert await graph_cache.friends_of_friends(stores, me, [a], fanout=1, limit=100) == {x}
    assert 0 < await stores.redis.ttl(stores.key("graph", "fof", me)) <= graph_cache.FOF_TTL_S
