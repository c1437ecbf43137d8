"""Counters: exact in Mongo, fast in Redis, and in agreement after bursts of
concurrent likes and unlikes, views, shares and cache misses."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from feed.social import counters, likes
from tests.conftest import signup
from tests.feed.test_posts_feed import poll
from tests.feed.test_social import MISSING_POST, new_post


async def redis_counts(stores, post_id: str) -> dict[str, int] | None:
    raw = await stores.redis.hgetall(counters.cache_key(stores, post_id))
    if not raw:
        return None
    return {k.decode(): int(v) for k, v in raw.items()}


async def assert_agree(http, stores, viewer: dict, post_id: str) -> dict[str, int]:
    exact = await counters.exact_counts(stores, post_id)
    cached = await redis_counts(stores, post_id)
    assert cached is not None, "no cached counters"
    assert {k: cached[k] for k in counters.FIELDS} == exact, (cached, exact)
    shown = (await http.get(f"/v1/posts/{post_id}", headers=viewer["headers"])).json()["counts"]
    assert shown == {k: exact[k] for k in shown}
    return exact


async def test_a_burst_of_likes_and_unlikes_agrees_everywhere(http, stores):
    author = await signup(http)
    fans = [await signup(http) for _ in range(25)]
    post = await new_post(http, stores, author, "like me")
    pid = post["id"]
    rng = random.Random(7)

    # 50 concurrent calls: every fan likes, and half of them also unlike (in
    # either order), some twice; the outcome per fan depends on the interleaving
    calls = []
    for i, fan in enumerate(fans):
        calls.append(("POST", fan))
        if i % 2:
            calls.append(("DELETE", fan))
    while len(calls) < 50:
        calls.append((rng.choice(["POST", "DELETE"]), rng.choice(fans)))
    rng.shuffle(calls)
    answers = await asyncio.gather(*(http.request(m, f"/v1/posts/{pid}/like", headers=f["headers"]) for m, f in calls))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]

    documents = await likes.count_likes(stores, pid)
    exact = await assert_agree(http, stores, author, pid)
    assert exact["likes"] == documents
    # and each fan's own view agrees with the documents
    liked = await likes.liked_by(stores, fans[0]["user"]["id"], [pid])
    assert (await http.get(f"/v1/posts/{pid}", headers=fans[0]["headers"])).json()["liked"] is (pid in liked)

    # a second burst of only unlikes empties it
    await asyncio.gather(*(http.delete(f"/v1/posts/{pid}/like", headers=f["headers"]) for f in fans for _ in range(2)))
    assert (await assert_agree(http, stores, author, pid))["likes"] == 0 == await likes.count_likes(stores, pid)


async def test_concurrent_views_shares_and_likes_on_one_post(http, stores):
    author = await signup(http)
    people = [await signup(http) for _ in range(10)]
    pid = (await new_post(http, stores, author))["id"]
    calls = []
    for i, p in enumerate(people):
        calls += [
            http.post(f"/v1/posts/{pid}/view", json={"watch_ms": 100 * (i + 1), "completed": i % 3 == 0}, headers=p["headers"]),
            # the same view again: counted once per viewer and post (feed.social.views)
            http.post(f"/v1/posts/{pid}/view", json={"watch_ms": 100 * (i + 1), "completed": i % 3 == 0}, headers=p["headers"]),
            http.post(f"/v1/posts/{pid}/share", headers=p["headers"]),
            http.post(f"/v1/posts/{pid}/share", headers=p["headers"]),
            http.post(f"/v1/posts/{pid}/like", headers=p["headers"]),
        ]
    answers = await asyncio.gather(*calls)
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
    exact = await assert_agree(http, stores, author, pid)
    assert exact["views"] == 10
    assert exact["watch_ms"] == sum(100 * (i + 1) for i in range(10))
    assert exact["completes"] == 4
    assert exact["shares"] == 10 == await stores.db["shares"].count_documents({"post_id": pid})
    assert exact["likes"] == 10


async def test_posts_read_with_their_counts_take_redis_first_and_refill_a_miss(http, stores):
    """``posts.get_posts_vectors_and_counts``: one read of the posts; the counters are
    Redis's when it holds them (it may be ahead of a document read a moment
    ago), else the document's, which are then cached."""
    from feed.social import posts

    author, fan = await signup(http), await signup(http)
    held, evicted = (await new_post(http, stores, author))["id"], (await new_post(http, stores, author))["id"]
    for pid in (held, evicted):
        await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
    await stores.redis.delete(counters.cache_key(stores, evicted))
    await stores.redis.hset(counters.cache_key(stores, held), "views", 9)  # Redis ahead of Mongo's document
    got, vectors, counts = await posts.get_posts_vectors_and_counts(stores, [held, evicted, MISSING_POST])
    assert set(got) == set(vectors) == set(counts) == {held, evicted} and vectors[held].shape == (384,)
    assert counts[held]["views"] == 9 and counts[held]["likes"] == 1
    assert counts[evicted] == await counters.exact_counts(stores, evicted)
    assert (await redis_counts(stores, evicted))["likes"] == 1  # refilled from the document read


async def test_cache_miss_refills_from_mongo(http, stores):
    author, fan = await signup(http), await signup(http)
    pid = (await new_post(http, stores, author))["id"]
    await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
    await stores.redis.delete(counters.cache_key(stores, pid))  # evicted, expired or a fresh Redis
    assert (await counters.get_counts(stores, [pid]))[pid]["likes"] == 1
    assert (await redis_counts(stores, pid))["likes"] == 1
    # a write after the refill moves it on
    await http.delete(f"/v1/posts/{pid}/like", headers=fan["headers"])
    assert (await redis_counts(stores, pid))["likes"] == 0


async def test_a_stale_snapshot_never_overwrites_a_newer_one(http, stores):
    author, fan = await signup(http), await signup(http)
    pid = (await new_post(http, stores, author))["id"]
    await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
    version = int((await redis_counts(stores, pid))["cv"])
    # an older snapshot arriving late (a slow refill, a reordered write) is ignored
    await counters._cache(stores, [(pid, version - 1, counters.zero())])
    assert (await redis_counts(stores, pid))["likes"] == 1
    # misses refill concurrently with bumps: the copy still ends equal to Mongo
    await stores.redis.delete(counters.cache_key(stores, pid))
    people = [await signup(http) for _ in range(6)]
    await asyncio.gather(
        *(http.post(f"/v1/posts/{pid}/like", headers=p["headers"]) for p in people),
        *(counters.get_counts(stores, [pid]) for _ in range(6)),
    )
    assert (await assert_agree(http, stores, author, pid))["likes"] == 7


async def test_bump_is_published_and_unknown_posts_are_left_alone(http, stores):
    author, fan = await signup(http), await signup(http)
    pid = (await new_post(http, stores, author))["id"]
    pubsub = stores.redis.pubsub()
    await pubsub.subscribe(stores.key(counters.COUNTS_CHANNEL))
    try:
        await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])

        async def published():
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            return json.loads(msg["data"]) if msg and msg["type"] == "message" else None

        body = await poll(published, timeout=30, interval=0, what="a counts message")
        assert body["post_id"] == pid and body["counts"]["likes"] == 1 and set(body["counts"]) == set(counters.FIELDS)
    finally:
        await pubsub.aclose()

    assert await counters.bump(stores, MISSING_POST, likes=1) == {}
    assert await stores.db["posts"].count_documents({"_id": MISSING_POST}) == 0
    assert await redis_counts(stores, MISSING_POST) is None
    assert (await counters.get_counts(stores, [MISSING_POST]))[MISSING_POST] == counters.zero()
    assert await redis_counts(stores, MISSING_POST) is None  # zeros of unknown posts are not cached
    with pytest.raises(ValueError):
        await counters.bump(stores, pid, followers=1)
    assert (await counters.bump(stores, pid))["likes"] == 1  # no deltas: the counts as they are
