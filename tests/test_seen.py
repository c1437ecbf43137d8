"""The ranked feed's seen check (``feed.seen.already``): one script call over
the user's three sets, served, viewed and hidden, on the session's real Valkey."""

from __future__ import annotations

import uuid

from feed import seen, views


async def test_already_finds_posts_served_viewed_or_hidden_and_nothing_else(stores):
    user, other = f"user_{uuid.uuid4().hex}", f"user_{uuid.uuid4().hex}"
    ids = [f"post_{uuid.uuid4().hex}" for _ in range(400)]
    served, viewed, hidden = ids[:50], ids[100:130], ids[200:205]
    await seen.mark(stores, user, served)
    await seen.mark(stores, other, ids[300:])  # someone else's marks do not count
    await stores.redis.zadd(views.history_key(stores, user), {pid: 1 for pid in viewed})
    for pid in hidden:
        await seen.hide(stores, user, pid)

    assert await seen.already(stores, user, ids) == set(served + viewed + hidden)
    assert await seen.already(stores, user, ids[50:100]) == set()
    assert await seen.already(stores, user, []) == set()
    assert await seen.already(stores, other, ids[290:310]) == set(ids[300:310])
    # an id no set could hold (a line break would split it) is simply not seen
    assert await seen.already(stores, user, [served[1] + "\n" + served[2], served[0]]) == {served[0]}
