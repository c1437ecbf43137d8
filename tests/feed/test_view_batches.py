"""Views counted in batches (``feed.social.view_batches`` over
``feed.social.counters.bump_many``), on the session's real nx-27017 and Valkey:
Mongo, the Redis copy and the published counts all end where one write per
view would have left them."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from feed.social import counters
from feed.social.view_batches import ViewBatches
from tests.feed.test_ranking import make_authors, seed_posts


async def test_a_batch_adds_up_every_view_and_publishes_the_result(stores):
    [author] = await make_authors(stores, 1)
    a, b, untouched = await seed_posts(stores, [{"author_id": author, "caption": f"batch {i}"} for i in range(3)])
    await counters.bump(stores, a.id, views=2, watch_ms=1000)  # something there already, and cached
    batches = ViewBatches(stores)
    pubsub = stores.redis.pubsub()
    await pubsub.subscribe(stores.key(counters.COUNTS_CHANNEL))
    try:
        for i in range(30):
            batches.add(a.id, watch_ms=100 * i, completed=i % 3 == 0)
        for _ in range(7):
            batches.add(b.id, watch_ms=4_000_000, completed=True)  # watch time is capped per view
        batches.add("post_unknown", watch_ms=5, completed=False)  # no such post: nothing written for it
        assert await batches.flush() == 38
        assert batches.pending == {} and batches.written == 38

        want_a = {"views": 32, "watch_ms": 1000 + 100 * sum(range(30)), "completes": 10}
        want_b = {"views": 7, "watch_ms": 7 * 3_600_000, "completes": 7}
        for post, want in ((a, want_a), (b, want_b)):
            exact = await counters.exact_counts(stores, post.id)
            assert {k: exact[k] for k in want} == want
            cached = (await counters.get_counts(stores, [post.id]))[post.id]
            assert cached == exact
        assert (await counters.exact_counts(stores, untouched.id))["views"] == 0
        assert await counters.exact_counts(stores, "post_unknown") is None

        heard = {}
        deadline = asyncio.get_running_loop().time() + 10
        while set(heard) != {a.id, b.id}:
            assert asyncio.get_running_loop().time() < deadline, f"counts published: {heard}"
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None or message["type"] != "message":
                continue  # the subscribe confirmation reads as None
            found = msgspec.json.decode(message["data"], type=counters.CountsMessage)
            heard[found.post_id] = found.counts
        assert heard[a.id]["views"] == 32 and heard[b.id]["completes"] == 7
    finally:
        await pubsub.aclose()


async def test_the_runner_writes_within_an_interval_and_close_writes_the_rest(stores):
    [author] = await make_authors(stores, 1)
    [post] = await seed_posts(stores, [{"author_id": author, "caption": "runner"}])
    batches = ViewBatches(stores, interval=0.05)
    batches.start()
    try:
        batches.add(post.id, watch_ms=10, completed=False)
        for _ in range(200):
            if batches.written:
                break
            await asyncio.sleep(0.02)
        assert batches.written == 1 and (await counters.exact_counts(stores, post.id))["views"] == 1
    finally:
        batches.add(post.id, watch_ms=10, completed=False)
        await batches.close()  # the pending view is written on the way out
    assert (await counters.exact_counts(stores, post.id))["views"] == 2


async def test_unknown_counters_are_refused_before_anything_is_written(stores):
    [author] = await make_authors(stores, 1)
    [post] = await seed_posts(stores, [{"author_id": author, "caption": "refused"}])
    with pytest.raises(ValueError):
        await counters.bump_many(stores, {post.id: {"views": 1}, "post_x": {"dislikes": 1}})
    assert (await counters.exact_counts(stores, post.id))["views"] == 0
    assert await counters.bump_many(stores, {post.id: {"views": 0}}) == {}
