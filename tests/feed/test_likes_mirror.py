"""The Redis mirror of a user's likes (feed.social.likes): ``liked_by`` answers from
Redis when the mirror is known complete, from Mongo otherwise, and stays
correct through duplicates, failed likes, a lost mirror, a partial mirror,
and likes/unlikes racing a fill or each other.

Mongo is the source of truth; where a test deletes Mongo documents behind the
mirror's back, or makes the collection unusable, it only probes where an
answer came from."""

from __future__ import annotations

import time

import pytest

from core.clock import utcnow
from core.errors import NotFound
from core.ids import new_id
from feed.social import counters, likes


@pytest.fixture(scope="module", autouse=True)
async def indexes(stores):
    await likes.ensure_indexes(stores)


async def make_post(stores, author_id: str | None = None) -> str:
    """A post document as ``feed.publishing.publish`` writes it (no video, no embedding)."""
    pid = new_id("post")
    await stores.db["posts"].insert_one(
        {
            "_id": pid,
            "author_id": author_id or new_id("user"),
            "video_id": new_id("video"),
            "caption": "",
            "created_at": utcnow(),
            "visibility": "public",
            "prompt": "",
            "embedding": None,
            "remix_of": None,
            **counters.initial_fields(),
        }
    )
    return pid


async def in_mongo(stores, user_id: str) -> set[str]:
    return {d["post_id"] async for d in stores.db["likes"].find({"user_id": user_id}, {"post_id": 1})}


async def mirror(stores, user_id: str) -> tuple[float | None, dict[str, float]]:
    """(the !state score, {post_id: score}) of the user's mirror."""
    key = likes.mirror_key(stores, user_id)
    state = await stores.redis.zscore(key, likes.STATE)
    members = await stores.redis.zrange(key, 0, -1, withscores=True)
    return state, {m.decode(): s for m, s in members if not m.startswith(b"!")}


def liked_members(members: dict[str, float]) -> set[str]:
    return {pid for pid, score in members.items() if score >= 0}


async def clear(stores, user_id: str) -> None:
    await stores.redis.delete(likes.mirror_key(stores, user_id))


def no_mongo(monkeypatch):
    """From here on, any read of the likes collection fails the test."""

    def refuse(stores):
        raise AssertionError("liked_by went to Mongo")

    monkeypatch.setattr(likes, "_collection", refuse)


async def test_empty_input_is_no_io(stores, monkeypatch):
    no_mongo(monkeypatch)
    monkeypatch.setattr(stores, "redis", None)
    assert await likes.liked_by(stores, new_id("user"), []) == set()


async def test_liked_by_agrees_with_mongo_through_likes_and_unlikes(stores, monkeypatch):
    user = new_id("user")
    posts = [await make_post(stores) for _ in range(5)]
    p1, p2, p3, p4, p5 = posts

    # a user without likes: the mirror is filled (FULL, empty)
    assert await likes.liked_by(stores, user, posts) == set()
    state, members = await mirror(stores, user)
    assert state == likes.FULL and members == {}

    steps = [
        (likes.like, p1, True),
        (likes.like, p2, True),
        (likes.like, p2, False),  # duplicate
        (likes.unlike, p3, False),  # never liked
        (likes.like, p3, True),
        (likes.unlike, p1, True),
        (likes.unlike, p1, False),  # again
        (likes.like, p4, True),
        (likes.like, p1, True),  # liked again
    ]
    for action, pid, changed in steps:
        assert await action(stores, user, pid) is changed, (action.__name__, pid)
        truth = await in_mongo(stores, user)
        assert await likes.liked_by(stores, user, [*posts, p2, p1]) == truth  # duplicates in the input too
        state, members = await mirror(stores, user)
        assert state == likes.FULL
        assert members == {pid: members[pid] for pid in truth}, "the mirror holds exactly the likes"
        assert all(score > 0 for score in members.values())
    assert await in_mongo(stores, user) == {p1, p2, p3, p4}
    assert await likes.count_likes(stores, p1) == 1 and await likes.count_likes(stores, p5) == 0

    ttl = await stores.redis.ttl(likes.mirror_key(stores, user))
    assert likes.MIRROR_TTL_S - 60 < ttl <= likes.MIRROR_TTL_S

    # and all of that came from Redis
    no_mongo(monkeypatch)
    assert await likes.liked_by(stores, user, posts) == {p1, p2, p3, p4}


async def test_a_lost_mirror_is_answered_from_mongo_and_refilled(stores):
    user = new_id("user")
    posts = [await make_post(stores) for _ in range(4)]
    before = time.time()
    for pid in posts[:3]:
        await likes.like(stores, user, pid)
    await likes.unlike(stores, user, posts[0])
    await clear(stores, user)  # expired, flushed, new deployment

    assert await mirror(stores, user) == (None, {})
    assert await likes.liked_by(stores, user, posts) == {posts[1], posts[2]}

    state, members = await mirror(stores, user)
    assert state == likes.FULL
    assert set(members) == {posts[1], posts[2]}
    assert all(before - 1 <= score <= time.time() + 1 for score in members.values()), members  # like times
    assert await stores.redis.ttl(likes.mirror_key(stores, user)) > likes.MIRROR_TTL_S - 60


async def test_a_filled_mirror_answers_without_mongo(stores, monkeypatch):
    user = new_id("user")
    posts = [await make_post(stores) for _ in range(3)]
    await likes.like(stores, user, posts[0])
    await likes.like(stores, user, posts[1])
    await clear(stores, user)
    assert await likes.liked_by(stores, user, posts) == {posts[0], posts[1]}  # fills

    # probe: take the documents away behind the mirror's back; the answer does not move
    await stores.db["likes"].delete_many({"user_id": user})
    assert await likes.liked_by(stores, user, posts) == {posts[0], posts[1]}
    no_mongo(monkeypatch)
    assert await likes.liked_by(stores, user, posts) == {posts[0], posts[1]}


async def test_a_partial_mirror_asks_mongo_for_what_it_lacks(stores, monkeypatch):
    monkeypatch.setattr(likes, "MAX_MIRROR", 3)
    user = new_id("user")
    posts = [await make_post(stores) for _ in range(8)]
    liked = posts[:6]
    for pid in liked:
        await likes.like(stores, user, pid)
    await clear(stores, user)

    assert await likes.liked_by(stores, user, posts) == set(liked)
    state, members = await mirror(stores, user)
    assert state == likes.PARTIAL
    assert set(members) == set(sorted(liked)[-3:]), "the likes of the newest posts"
    # again, now from the partial mirror plus Mongo for the rest
    assert await likes.liked_by(stores, user, posts) == set(liked)
    assert await likes.liked_by(stores, user, [posts[0], posts[7]]) == {posts[0]}
    await likes.unlike(stores, user, posts[0])  # one the mirror never held
    await likes.unlike(stores, user, posts[5])  # one it holds
    assert await likes.liked_by(stores, user, posts) == set(posts[1:5])
    assert (await mirror(stores, user))[0] == likes.PARTIAL

    # a full mirror that outgrows MAX_MIRROR keeps the newest likes and turns partial
    other = new_id("user")
    assert await likes.liked_by(stores, other, posts) == set()
    for pid in posts[:3]:
        await likes.like(stores, other, pid)
    assert (await mirror(stores, other))[0] == likes.FULL
    await likes.like(stores, other, posts[3])
    state, members = await mirror(stores, other)
    assert state == likes.PARTIAL and set(members) == set(posts[1:4])
    assert await likes.liked_by(stores, other, posts) == set(posts[:4])


async def test_an_unlike_during_a_fill_is_not_resurrected(stores, monkeypatch):
    user = new_id("user")
    p1, p2, p3 = [await make_post(stores) for _ in range(3)]
    await likes.like(stores, user, p1)
    await likes.like(stores, user, p2)
    await clear(stores, user)

    read = likes._read_user_likes
    raced = []

    async def read_then_race(stores_, user_id, limit):
        docs = await read(stores_, user_id, limit)
        if not raced:  # between the fill's Mongo read and its Redis write
            raced.append(True)
            assert await likes.unlike(stores, user, p1) is True
            assert await likes.like(stores, user, p3) is True
        return docs

    monkeypatch.setattr(likes, "_read_user_likes", read_then_race)
    # this read overlapped the unlike and the like: either answer is fair for them
    assert await likes.liked_by(stores, user, [p1, p2, p3]) - {p1, p3} == {p2}
    assert raced
    state, members = await mirror(stores, user)
    assert state is None, "the fill saw the generation move and wrote nothing"
    assert p1 not in liked_members(members)

    assert await likes.liked_by(stores, user, [p1, p2, p3]) == {p2, p3} == await in_mongo(stores, user)
    state, members = await mirror(stores, user)
    assert state == likes.FULL and set(members) == {p2, p3}
    assert await likes.liked_by(stores, user, [p1, p2, p3]) == {p2, p3}


async def test_redis_steps_landing_out_of_order_leave_the_post_in_doubt(stores, monkeypatch):
    """A like's mirror update arrives after an unlike that came later in Mongo."""
    user = new_id("user")
    pid, other = await make_post(stores), await make_post(stores)
    assert await likes.liked_by(stores, user, [pid]) == set()  # a FULL, empty mirror

    finish = likes._finish
    state = {"raced": False}

    async def late_finish(stores_, user_id, post_id, outcome):
        if post_id == pid and isinstance(outcome, float) and not state["raced"]:
            state["raced"] = True
            assert await likes.unlike(stores, user, pid) is True  # all of it, first
        await finish(stores_, user_id, post_id, outcome)

    monkeypatch.setattr(likes, "_finish", late_finish)
    assert await likes.like(stores, user, pid) is True
    assert state["raced"]
    assert await in_mongo(stores, user) == set()
    _, members = await mirror(stores, user)
    assert members[pid] < 0, "in doubt"
    assert await likes.liked_by(stores, user, [pid, other]) == set()

    # an operation that overlaps nothing settles it
    monkeypatch.setattr(likes, "_finish", finish)
    assert await likes.like(stores, user, pid) is True
    _, members = await mirror(stores, user)
    assert members[pid] > 0
    assert await likes.liked_by(stores, user, [pid, other]) == {pid}


async def test_failed_likes_leave_no_member(stores, monkeypatch):
    user = new_id("user")
    pid, gone = await make_post(stores), await make_post(stores)
    assert await likes.liked_by(stores, user, [pid]) == set()  # a FULL mirror

    # the post disappears between the insert and the counter bump
    async def post_gone(stores_, post_id, **deltas):
        return {}

    monkeypatch.setattr(counters, "bump", post_gone)
    with pytest.raises(NotFound):
        await likes.like(stores, user, gone)
    monkeypatch.undo()
    assert await in_mongo(stores, user) == set()
    _, members = await mirror(stores, user)
    assert gone not in members
    assert await likes.liked_by(stores, user, [pid, gone]) == set()

    # an unknown post: nothing at all
    with pytest.raises(NotFound):
        await likes.like(stores, user, "post_01jzzzzzzzzzzzzzzzzzzzzzzz")

    # a duplicate keeps the first like's time; an unlike of nothing adds nothing
    assert await likes.like(stores, user, pid) is True
    first = (await mirror(stores, user))[1][pid]
    assert await likes.like(stores, user, pid) is False
    assert await likes.unlike(stores, user, gone) is False
    state, members = await mirror(stores, user)
    assert state == likes.FULL and members == {pid: first}
    assert await likes.liked_by(stores, user, [pid, gone]) == {pid}


async def test_a_mongo_failure_leaves_the_post_in_doubt(stores, monkeypatch):
    user = new_id("user")
    pid = await make_post(stores)
    assert await likes.liked_by(stores, user, [pid]) == set()
    collection = likes._collection

    class Broken:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        async def insert_one(self, doc):
            await self.real.insert_one(doc)
            raise ConnectionError("the answer was lost")

    monkeypatch.setattr(likes, "_collection", lambda s: Broken(collection(s)))
    with pytest.raises(ConnectionError):
        await likes.like(stores, user, pid)
    monkeypatch.undo()
    _, members = await mirror(stores, user)
    assert members[pid] < 0
    assert await likes.liked_by(stores, user, [pid]) == {pid} == await in_mongo(stores, user)


async def test_a_like_that_dies_between_its_steps_stays_in_doubt_through_a_fill(stores):
    """A like starts, a fill runs its course, the like's Mongo write lands after
    the fill's read, and the process dies before the like's finish."""
    user = new_id("user")
    pid, other = await make_post(stores), await make_post(stores)
    await likes.like(stores, user, other)
    await clear(stores, user)

    await likes._start(stores, user, pid)  # the dying like, step 1
    assert await likes.liked_by(stores, user, [pid, other]) == {other}  # the fill
    state, members = await mirror(stores, user)
    assert state == likes.FULL and members[pid] < 0, "the commit kept the post in doubt"
    await stores.db["likes"].insert_one(  # step 2; step 3 never comes
        {"_id": f"{pid}:{user}", "post_id": pid, "user_id": user, "created_at": utcnow()}
    )
    assert await likes.liked_by(stores, user, [pid, other]) == {pid, other}


async def test_redis_lost_after_an_unlike_keeps_the_counter_with_the_documents(stores, monkeypatch):
    """Redis going away between an unlike's Mongo delete and its mirror step
    (the Valkey fault case caught this): the request fails, but the counter
    still moves with the document it counts."""
    user = new_id("user")
    pid = await make_post(stores)
    assert await likes.like(stores, user, pid) is True

    async def redis_gone(*args, **kwargs):
        raise ConnectionError("Valkey went away")

    monkeypatch.setattr(likes, "_finish", redis_gone)
    with pytest.raises(ConnectionError):
        await likes.unlike(stores, user, pid)
    assert await in_mongo(stores, user) == set()
    assert (await counters.exact_counts(stores, pid))["likes"] == 0
