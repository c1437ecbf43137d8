"""Changes reach the feed's in-memory state at once: post edits and deletes
the candidate pool (which the ranker serves from without a read), follow and
block changes the cache of the graph around each viewer. In the process that
made the change before the call returns; in the others over Redis pub/sub;
and a process that missed messages catches up by reading the pool again.

Every test runs in a world of its own (tests.feed.test_ranking): fresh embedded
servers, so the pool holds only the posts the test made."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import msgspec
import pytest
from ulid import ULID

from accounts import graph, graph_cache, graph_writes
from core.broadcast import ORIGIN
from core.errors import NotFound
from core.subscription import Subscription
from feed.live.runtime import FeedRuntime
from feed.live.viewer_cache import VIEWER_TTL_S
from feed.live.visibility import check_visible
from feed.publishing import delete_post, update_post
from feed.ranking.pool import PostPool
from feed.social import counters, post_changes
from tests.feed.test_ranking import make_authors, make_user, new_world, seed_posts


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


async def until(condition, what: str, timeout: float = 10.0) -> None:
    """Wait for ``condition()`` to hold (a message crossing Redis), at most ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def consistent(pool: PostPool) -> bool:
    return (
        all(pool.table.ids[row] == pid for pid, row in pool.rows.items())
        and len(pool.restricted) == len(pool.table)
        and all(pool.restricted[row] == (pool.posts[pid].visibility != "public") for pid, row in pool.rows.items())
        and set(pool.posts) == set(pool.table.ids)
        and all(pool.table.authors[r] == author for author, rows in pool.by_author.items() for r in rows)
    )


async def test_edits_and_deletes_reach_the_pool_before_the_call_returns(world):
    [author] = await make_authors(world.stores, 1)
    edited, hidden, deleted, kept, narrowed = await seed_posts(world.stores, [{"author_id": author, "caption": f"clip {i}"} for i in range(5)])
    [private] = await seed_posts(world.stores, [{"author_id": author, "caption": "only me", "visibility": "private"}])
    pool = PostPool(world.stores, size=100)
    await pool.refresh()
    assert set(pool.rows) == {edited.id, hidden.id, deleted.id, kept.id, narrowed.id}
    assert not pool.restricted.any()
    assert pool.posts[edited.id].caption == "clip 0" and pool.posts[edited.id].embedding is None
    stop = post_changes.CHANGES.listen(pool.apply)
    try:
        await update_post(world.stores, edited.id, author_id=author, caption="new words")
        assert pool.posts[edited.id].caption == "new words"
        await update_post(world.stores, hidden.id, author_id=author, visibility="private")
        assert hidden.id not in pool.rows and hidden.id not in pool.posts
        await update_post(world.stores, narrowed.id, author_id=author, visibility="followers")  # stays, for followers alone
        assert pool.restricted[pool.rows[narrowed.id]] and pool.posts[narrowed.id].visibility == "followers"
        await delete_post(world.stores, deleted.id)
        assert set(pool.rows) == {edited.id, kept.id, narrowed.id} and consistent(pool)
        assert pool.restricted[pool.rows[narrowed.id]] and pool.restricted.sum() == 1

        await pool.refresh()  # a refresh brings neither back, nor takes the only-me post
        assert set(pool.rows) == {edited.id, kept.id, narrowed.id} and private.id not in pool.rows

        await update_post(world.stores, hidden.id, author_id=author, visibility="public")
        await asyncio.gather(*pool._background)  # made public: read with its embedding and taken in
        assert set(pool.rows) == {edited.id, hidden.id, kept.id, narrowed.id} and consistent(pool)
        assert pool.posts[hidden.id].visibility == "public"
        assert pool.table.embeddings[pool.rows[hidden.id]].any()
    finally:
        stop()


async def test_another_process_change_arrives_over_pub_sub_and_our_own_echo_is_skipped(world):
    heard: list[post_changes.PostChange] = []
    stop = post_changes.CHANGES.listen(heard.append)
    channel = post_changes.CHANGES.key(world.stores)
    sub = Subscription(world.stores, {channel: post_changes.CHANGES.receive}, name="test")
    try:
        await sub.wait_ready()
        assert sub.ready.is_set()
        [author] = await make_authors(world.stores, 1)
        [post] = await seed_posts(world.stores, [{"author_id": author, "caption": "x"}])
        await delete_post(world.stores, post.id)  # ours: told at once, and its echo comes back over Redis
        assert [c.op for c in heard] == ["deleted"]
        body = msgspec.json.encode(post_changes.PostChange(op="updated", post=msgspec.structs.replace(post, embedding=None)))
        await world.stores.redis.publish(channel, b"not-json")  # malformed: dropped, the reader goes on
        await world.stores.redis.publish(channel, b"another-process\n" + body)
        await until(lambda: len(heard) == 2, "the other process's change")
        assert [c.op for c in heard] == ["deleted", "updated"]  # our echo, sent before it, was skipped
        assert sub.received == 3
    finally:
        stop()
        await sub.stop()
    assert ORIGIN != b"another-process"


async def test_a_process_that_missed_changes_catches_up_by_revalidating(world):
    [author] = await make_authors(world.stores, 1)
    posts = await seed_posts(world.stores, [{"author_id": author, "caption": f"clip {i}"} for i in range(5)])
    pool = PostPool(world.stores, size=100)
    await pool.refresh()
    # changed behind the pool's back: no message was told
    await world.stores.db["posts"].update_one({"_id": posts[0].id}, {"$set": {"visibility": "private"}})
    await world.stores.db["posts"].update_one({"_id": posts[3].id}, {"$set": {"visibility": "followers"}})
    await world.stores.db["posts"].delete_one({"_id": posts[1].id})
    await world.stores.db["posts"].update_one({"_id": posts[2].id}, {"$set": {"caption": "edited elsewhere"}})
    assert len(pool) == 5
    assert await pool.revalidate(chunk=2) == 2
    assert set(pool.rows) == {p.id for p in posts[2:]} and consistent(pool)
    assert pool.posts[posts[2].id].caption == "edited elsewhere"
    assert pool.restricted[pool.rows[posts[3].id]] and pool.restricted.sum() == 1


async def test_the_rolling_reread_takes_in_missed_changes_a_slice_at_a_time(world):
    [author] = await make_authors(world.stores, 1)
    posts = await seed_posts(world.stores, [{"author_id": author, "caption": f"clip {i}"} for i in range(5)])
    pool = PostPool(world.stores, size=100)
    await pool.refresh()
    order = list(pool.table.ids)  # the pass goes over the rows as they are when it starts
    assert sorted(order) == sorted(p.id for p in posts)
    await counters.get_counts(world.stores, order)  # cached in Redis, as a bump leaves them
    # changed behind the pool's back: no message was told
    for pid in order:
        await world.stores.db["posts"].update_one({"_id": pid}, {"$set": {"caption": f"edited {pid}"}})
        await world.stores.redis.hset(counters.cache_key(world.stores, pid), "likes", 7)
    hidden = order[2]
    await world.stores.db["posts"].update_one({"_id": hidden}, {"$set": {"visibility": "private"}})

    def reread() -> set[str]:
        return {pid for pid, post in pool.posts.items() if post.caption == f"edited {pid}"}

    assert await pool.reread_next(2) == 0
    assert reread() == set(order[:2]) and consistent(pool)
    assert {pid for pid in order if pid in pool.rows and pool.counts_of(pid)["likes"] == 7} == set(order[:2])
    assert await pool.reread_next(2) == 1  # the private one leaves when its turn comes
    assert hidden not in pool.rows and reread() == {order[0], order[1], order[3]} and consistent(pool)
    assert await pool.reread_next(2) == 0  # one left in this pass
    assert reread() == set(order) - {hidden} and len(pool) == 4
    assert all(pool.counts_of(pid)["likes"] == 7 for pid in pool.rows)
    # the next call starts a new pass, over the rows as they are now
    await world.stores.db["posts"].update_one({"_id": order[4]}, {"$set": {"caption": "again"}})
    assert await pool.reread_next(10) == 0
    assert pool.posts[order[4]].caption == "again" and consistent(pool)


async def test_the_graph_around_a_viewer_is_reread_as_soon_as_an_edge_changes(world):
    viewer = (await make_user(world.stores))["user"]["id"]
    a, b, c = await make_authors(world.stores, 3)
    rt = FeedRuntime(world.stores)
    await rt.start()
    try:
        first = await rt.viewers.viewer(viewer)
        assert first.following == set() and first.blocked == set()
        assert await rt.viewers.viewer(viewer) is first  # cached

        await graph_writes.follow(world.stores, viewer, b)
        now = await rt.viewers.viewer(viewer)
        assert now.following == {b}

        await graph_writes.block(world.stores, a, viewer)  # blocked by someone
        await graph_writes.block(world.stores, viewer, c)  # blocking someone
        now = await rt.viewers.viewer(viewer)
        assert now.blocked == {a, c} and now.following == {b}

        await graph_writes.unblock(world.stores, a, viewer)
        assert (await rt.viewers.viewer(viewer)).blocked == {c}

        # another process's change: the edge written and the shared cache dropped
        # (as accounts.graph does) without telling us, then its message
        await rt.viewers.viewer(viewer)
        await asyncio.gather(*rt.background.tasks)  # friends of friends read: they join the entry when they land
        cached = await rt.viewers.viewer(viewer)
        await world.stores.db.blocks.delete_one({"_id": f"{viewer}:{c}"})
        await graph_cache.invalidate(world.stores, [viewer, c])
        assert await rt.viewers.viewer(viewer) is cached
        body = msgspec.json.encode(graph.GraphChange(kind="block", users=[viewer, c]))
        await world.stores.redis.publish(graph.CHANGES.key(world.stores), b"another-process\n" + body)
        await until(lambda: viewer not in rt.viewers._viewers, "the graph message")
        assert (await rt.viewers.viewer(viewer)).blocked == set()
    finally:
        await rt.stop()


async def test_an_old_graph_entry_is_answered_at_once_and_read_again_behind(world):
    """Past VIEWER_TTL_S an entry (kept current by the change messages) is a
    backstop only: the caller gets it without waiting, and the next call
    gets what the background read found."""
    viewer = (await make_user(world.stores))["user"]["id"]
    (a,) = await make_authors(world.stores, 1)
    rt = FeedRuntime(world.stores)
    await rt.start()
    try:
        await rt.viewers.viewer(viewer)
        await asyncio.gather(*rt.background.tasks)  # anything read behind the first call has landed
        first = await rt.viewers.viewer(viewer)
        # a follow that this process never hears of (edge and shared cache written directly)
        await world.stores.db.follows.insert_one(
            {"_id": f"{viewer}:{a}", "follower": viewer, "followee": a, "k": str(ULID()), "created_at": datetime.now(UTC)}
        )
        await graph_cache.invalidate(world.stores, [viewer, a])
        assert await rt.viewers.viewer(viewer) is first  # fresh enough: no read
        at, kept = rt.viewers._viewers[viewer]
        rt.viewers._viewers[viewer] = (at - VIEWER_TTL_S - 1, kept)
        assert await rt.viewers.viewer(viewer) is first  # too old: answered as it is...
        assert rt.background.tasks  # ...and read again behind the call
        await asyncio.gather(*rt.background.tasks)
        assert (await rt.viewers.viewer(viewer)).following == {a}
    finally:
        await rt.stop()


async def test_a_graph_read_overtaken_by_a_change_of_its_user_is_not_kept(world, monkeypatch):
    viewer = (await make_user(world.stores))["user"]["id"]
    (a,) = await make_authors(world.stores, 1)
    rt = FeedRuntime(world.stores)
    await rt.start()
    try:
        read_done, release = asyncio.Event(), asyncio.Event()
        real_around = graph_cache.around

        async def slow_around(stores, user_id):
            found = await real_around(stores, user_id)  # the graph before the follow...
            read_done.set()
            await release.wait()  # ...handed over after it
            return found

        monkeypatch.setattr(graph_cache, "around", slow_around)
        reading = asyncio.create_task(rt.viewers.viewer(viewer))
        await read_done.wait()
        await graph_writes.follow(world.stores, viewer, a)  # its message reaches this runtime
        await until(lambda: rt.viewers._user_epoch.get(viewer), "the follow's message")
        release.set()
        assert (await reading).following == set()  # the caller gets what was read...
        assert viewer not in rt.viewers._viewers  # ...but it is not kept
        monkeypatch.setattr(graph_cache, "around", real_around)
        assert (await rt.viewers.viewer(viewer)).following == {a}
    finally:
        await rt.stop()


async def test_a_like_or_share_on_the_stream_checks_visibility_against_the_kept_state(world):
    viewer = (await make_user(world.stores))["user"]["id"]
    author, friend = await make_authors(world.stores, 2)
    public, narrow, hidden = await seed_posts(
        world.stores,
        [
            {"author_id": author, "caption": "for all"},
            {"author_id": friend, "caption": "for followers", "visibility": "followers"},
            {"author_id": author, "caption": "only me", "visibility": "private"},
        ],
    )
    rt = FeedRuntime(world.stores)
    await rt.start()
    try:
        await rt.pool.refresh()
        assert public.id in rt.pool.posts and narrow.id in rt.pool.posts and hidden.id not in rt.pool.posts
        assert (await check_visible(world.stores, rt.pool, rt.viewers, viewer, public.id)).id == public.id
        with pytest.raises(NotFound):
            await check_visible(world.stores, rt.pool, rt.viewers, viewer, narrow.id)  # in the pool, but for followers alone
        await graph_writes.follow(world.stores, viewer, friend)
        assert (await check_visible(world.stores, rt.pool, rt.viewers, viewer, narrow.id)).id == narrow.id
        with pytest.raises(NotFound):
            await check_visible(world.stores, rt.pool, rt.viewers, viewer, hidden.id)  # not in the pool: read, and refused the same way
        with pytest.raises(NotFound):
            await check_visible(world.stores, rt.pool, rt.viewers, viewer, "post_nothing")
        await graph_writes.block(world.stores, author, viewer)
        with pytest.raises(NotFound):
            await check_visible(world.stores, rt.pool, rt.viewers, viewer, public.id)
    finally:
        await rt.stop()
