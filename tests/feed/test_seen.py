"""The ranked feed's seen check (``feed.serving.seen.already``): one script call over
the user's three sets, served, viewed and hidden, on the session's real Valkey."""

from __future__ import annotations

import time
import uuid

from feed.serving import seen
from feed.social import views


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


async def test_checks_and_marks_of_more_ids_than_one_command_takes(stores):
    # a script passes at most LUA_CHUNK ids to one command: the chunks must cover every id once
    user = f"user_{uuid.uuid4().hex}"
    ids = [f"post_{uuid.uuid4().hex}" for _ in range(2 * seen.LUA_CHUNK + 7)]
    marked = ids[::3]
    await seen.mark(stores, user, marked)
    assert await stores.redis.zcard(seen.seen_key(stores, user)) == len(marked)
    assert await seen.already(stores, user, ids) == set(marked)
    assert await seen.already(stores, user, ids[seen.LUA_CHUNK - 1 : seen.LUA_CHUNK + 2]) == set(marked) & set(ids[seen.LUA_CHUNK - 1 : seen.LUA_CHUNK + 2])


async def test_a_mark_keeps_the_time_in_whole_milliseconds(stores):
    # whole numbers: a fractional score makes every insert into a small (listpack) set parse text
    user, post = f"user_{uuid.uuid4().hex}", f"post_{uuid.uuid4().hex}"
    before = time.time()
    await seen.mark(stores, user, [post])
    score = await stores.redis.zscore(seen.seen_key(stores, user), post)
    assert score == int(score)
    assert int(before * 1000) <= score <= time.time() * 1000 + 1
