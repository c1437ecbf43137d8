"""The accounts package against the real store: users, passwords, tokens,
credentials and the follow/block graph, without the HTTP layer."""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from accounts import credentials, graph, graph_writes, indexes, passwords, tokens, users
from core.clock import utcnow
from core.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized


@pytest.fixture(scope="module")
async def db(stores):
    await indexes.ensure(stores)
    return stores


def handle() -> str:
    return "a" + uuid.uuid4().hex[:14]


async def new_user(stores, name: str | None = None) -> users.User:
    # A throwaway hash: these tests are about documents, not argon2.
    return await users.create_user(stores, name or handle(), "not-a-real-hash")


async def doc_count(stores, collection: str, query: dict) -> int:
    return await stores.db[collection].count_documents(query)


# --- users ------------------------------------------------------------------


async def test_ensure_is_idempotent(db):
    await indexes.ensure(db)
    await indexes.ensure(db)
    names = [ix["key"] async for ix in await db.db.users.list_indexes()]
    assert any("handle_lc" in dict(key) for key in names)


async def test_handles_are_unique_ignoring_case(db):
    name = "Case_" + uuid.uuid4().hex[:8]
    first = await new_user(db, name)
    before = await doc_count(db, "users", {})
    with pytest.raises(Conflict) as info:
        await new_user(db, name.upper())
    assert info.value.status == 409 and info.value.code == "handle_taken"
    assert await doc_count(db, "users", {}) == before
    found = await users.get_by_handle(db, name.lower())
    assert found is not None and found.id == first.id and found.handle == name  # spelling kept


async def test_get_user_shape_and_unknowns(db):
    user = await new_user(db)
    got = await users.get_user(db, user.id)
    assert got == user
    assert got.id.startswith("user_") and got.followers == 0 and got.following == 0
    assert abs(got.created_at - int(utcnow().timestamp())) < 60
    assert await users.get_user(db, "user_nope") is None
    assert await users.get_by_handle(db, "no_such_" + uuid.uuid4().hex[:8]) is None
    # Malformed handles never reach the store and never match.
    assert await users.get_by_handle(db, user.handle + "\n") is None
    assert await users.get_by_handle(db, "x") is None


async def test_password_hash_never_leaves_through_public_reads(db):
    user = await new_user(db)
    raw = await db.db.users.find_one({"_id": user.id})
    assert raw["password_hash"] == "not-a-real-hash"
    assert "password_hash" not in users.User.__struct_fields__
    found = await users.credentials(db, user.handle.upper())
    assert found is not None and found[0].id == user.id and found[1] == "not-a-real-hash"


async def test_update_profile_sets_only_given_fields(db):
    user = await new_user(db)
    one = await users.update_profile(db, user.id, display_name="Ann", bio="line one\nline two")
    assert (one.display_name, one.bio, one.avatar_url) == ("Ann", "line one\nline two", "")
    two = await users.update_profile(db, user.id, avatar_url="https://img.example/a.png")
    assert (two.display_name, two.bio, two.avatar_url) == ("Ann", "line one\nline two", "https://img.example/a.png")
    three = await users.update_profile(db, user.id, display_name="")
    assert three.display_name == "" and three.bio == "line one\nline two"
    assert await users.update_profile(db, "user_missing", bio="x") is None


@pytest.mark.parametrize(
    "kwargs, ok",
    [
        ({"display_name": "Ann Lee"}, True),
        ({"display_name": "tab\there"}, False),
        ({"display_name": "new\nline"}, False),
        ({"bio": "two\nlines\tand tab"}, True),
        ({"bio": "bell\x07"}, False),
        ({"avatar_url": ""}, True),
        ({"avatar_url": "http://x.example/a.png?s=1"}, True),
        ({"avatar_url": "https://x.example/a.png\n"}, False),
        ({"avatar_url": "javascript:alert(1)"}, False),
        ({"avatar_url": "https://x.example/a b.png"}, False),
    ],
)
def test_profile_text_checks(kwargs, ok):
    if ok:
        users.check_profile_text(**kwargs)
    else:
        with pytest.raises(ValueError):
            users.check_profile_text(**kwargs)


@pytest.mark.parametrize(
    "value, ok",
    [("abc", True), ("A_b_9", True), ("x" * 30, True), ("ab", False), ("x" * 31, False),
     ("abc\n", False), ("ab c", False), ("abç", False), ("ａｂｃ", False), ("a-b", False)],
)
def test_handle_rule(value, ok):
    assert users.valid_handle(value) is ok


# --- passwords --------------------------------------------------------------


async def test_argon2_hash_and_verify():
    encoded = await passwords.hash_password("correct horse")
    assert encoded.startswith("$argon2id$") and "correct horse" not in encoded
    assert await passwords.verify_password(encoded, "correct horse")
    assert not await passwords.verify_password(encoded, "correct horsE")
    assert not await passwords.verify_password("garbage", "correct horse")
    assert not passwords.needs_rehash(encoded)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("x")
    assert passwords.needs_rehash(weak)
    assert passwords.needs_rehash("garbage")
    # Two hashes of one password differ (salted).
    assert encoded != await passwords.hash_password("correct horse")


# --- tokens -----------------------------------------------------------------


async def test_tokens_store_only_a_hash(db):
    user = await new_user(db)
    issued = await tokens.issue(db, user.id)
    assert issued.token.startswith(tokens.PREFIX) and len(issued.token) >= 40
    assert issued.id.startswith("tok_")
    doc = await db.db.tokens.find_one({"user_id": user.id})
    assert doc["_id"] == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in {str(v) for v in doc.values()}
    assert abs(issued.expires_at - (int(utcnow().timestamp()) + db.settings.token_ttl_s)) < 60
    assert await tokens.resolve(db, issued.token) == user.id


async def test_token_revoke_expiry_and_garbage(db):
    user = await new_user(db)
    a, b = await tokens.issue(db, user.id), await tokens.issue(db, user.id)
    assert a.token != b.token
    assert await tokens.revoke(db, a.token) is True
    assert await tokens.revoke(db, a.token) is False
    assert await tokens.resolve(db, a.token) is None
    assert await tokens.resolve(db, b.token) == user.id

    # an expired token (one not resolved since, so nothing is cached) is refused
    c = await tokens.issue(db, user.id)
    await db.db.tokens.update_one({"_id": tokens.digest(c.token)}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    assert await tokens.resolve(db, c.token) is None
    # a cached answer never outlives the token itself (one at the end of its
    # longest life, which use no longer extends)
    d = await tokens.issue(db, user.id)
    now = utcnow()
    end = {"expires_at": now + timedelta(seconds=3), "created_at": now - timedelta(seconds=db.settings.token_max_age_s - 3)}
    await db.db.tokens.update_one({"_id": tokens.digest(d.token)}, {"$set": end})
    assert await tokens.resolve(db, d.token) == user.id
    assert 0 < await db.redis.ttl(db.key("tok", tokens.digest(d.token))) <= 3

    for junk in ("", "fab_nope", "x" * 10_000, b.token + "x"):
        assert await tokens.resolve(db, junk) is None


async def test_revoke_all(db):
    user, other = await new_user(db), await new_user(db)
    mine = [await tokens.issue(db, user.id) for _ in range(3)]
    theirs = await tokens.issue(db, other.id)
    assert await tokens.revoke_all(db, user.id) == 3
    assert all([await tokens.resolve(db, t.token) is None for t in mine])
    assert await tokens.resolve(db, theirs.token) == other.id


# --- signup and login -------------------------------------------------------


async def test_signup_then_login(db):
    name = handle()
    session = await credentials.signup(db, name, "hunter2hunter2")
    assert session.user.handle == name
    assert await tokens.resolve(db, session.token) == session.user.id
    again = await credentials.login(db, name.upper(), "hunter2hunter2")
    assert again.user.id == session.user.id and again.token != session.token
    with pytest.raises(Conflict):
        await credentials.signup(db, name.swapcase(), "hunter2hunter2")


async def test_login_failures_look_alike(db):
    name = handle()
    await credentials.signup(db, name, "hunter2hunter2")
    failures = []
    for who, pw in ((name, "wrong password"), ("nobody_" + uuid.uuid4().hex[:8], "hunter2hunter2"), ("no way!", "x")):
        with pytest.raises(Unauthorized) as info:
            await credentials.login(db, who, pw)
        failures.append((info.value.status, info.value.code, info.value.message, info.value.details))
    assert len(set(failures)) == 1 and failures[0][:2] == (401, "invalid_credentials")


async def test_login_upgrades_an_outdated_hash(db):
    name = handle()
    session = await credentials.signup(db, name, "hunter2hunter2")
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("hunter2hunter2")
    await users.set_password_hash(db, session.user.id, weak)
    await credentials.login(db, name, "hunter2hunter2")
    stored = (await db.db.users.find_one({"_id": session.user.id}))["password_hash"]
    assert stored != weak and not passwords.needs_rehash(stored)
    assert await passwords.verify_password(stored, "hunter2hunter2")


# --- follows ----------------------------------------------------------------


async def counts(stores, user_id: str) -> tuple[int, int]:
    user = await users.get_user(stores, user_id)
    return user.followers, user.following


async def test_follow_is_idempotent_and_counted(db):
    a, b = await new_user(db), await new_user(db)
    assert await graph_writes.follow(db, a.id, b.id) is True
    assert await graph_writes.follow(db, a.id, b.id) is False
    assert await counts(db, b.id) == (1, 0) and await counts(db, a.id) == (0, 1)
    assert await graph.is_following(db, a.id, b.id) and not await graph.is_following(db, b.id, a.id)
    assert await graph.following_ids(db, a.id) == [b.id]
    rel = await graph.relationship(db, a.id, b.id)
    assert (rel.following, rel.followed_by, rel.blocking) == (True, False, False)
    rel = await graph.relationship(db, b.id, a.id)
    assert (rel.following, rel.followed_by, rel.blocking) == (False, True, False)

    assert await graph_writes.unfollow(db, a.id, b.id) is True
    assert await graph_writes.unfollow(db, a.id, b.id) is False
    assert await counts(db, b.id) == (0, 0) and await counts(db, a.id) == (0, 0)
    assert await graph.following_ids(db, a.id) == []


async def test_cannot_follow_yourself(db):
    a = await new_user(db)
    with pytest.raises(BadRequest):
        await graph_writes.follow(db, a.id, a.id)
    assert await counts(db, a.id) == (0, 0)


async def test_concurrent_follows_keep_counters_true(db):
    target = await new_user(db)
    fans = [await new_user(db) for _ in range(6)]
    # The same follow many times at once inserts one edge and counts it once.
    await asyncio.gather(*(graph_writes.follow(db, fans[0].id, target.id) for _ in range(8)))
    assert await counts(db, target.id) == (1, 0)
    # A random storm of follows and unfollows: counters end equal to the edges.
    rng = random.Random(7)
    ops = [
        (graph_writes.follow if rng.random() < 0.6 else graph_writes.unfollow)(db, rng.choice(fans).id, target.id)
        for _ in range(40)
    ]
    await asyncio.gather(*ops)
    edges = await doc_count(db, "follows", {"followee": target.id})
    assert (await counts(db, target.id))[0] == edges
    for fan in fans:
        assert (await counts(db, fan.id))[1] == await doc_count(db, "follows", {"follower": fan.id})


async def test_pages_are_newest_first_without_repeats(db):
    target = await new_user(db)
    fans = [await new_user(db) for _ in range(23)]
    for fan in fans:
        await graph_writes.follow(db, fan.id, target.id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await graph.followers_page(db, target.id, cursor=cursor, limit=5)
        pages += 1
        seen.extend(u.id for u in page.data)
        assert len(page.data) == 5 or page.next_cursor is None
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert seen == [f.id for f in reversed(fans)]
    # A page of exactly the remaining size ends the list.
    last = await graph.followers_page(db, target.id, limit=23)
    assert len(last.data) == 23 and last.next_cursor is None
    # The other direction.
    for fan in fans[:3]:
        page = await graph.following_page(db, fan.id)
        assert [u.id for u in page.data] == [target.id] and page.next_cursor is None


async def test_bad_cursor_and_limit(db):
    user = await new_user(db)
    for bad in ("nope", "0" * 25, "../../", "01ARZ3NDEKTSV4RRFFQ69G5FAU"):  # 'U' is not a ULID digit
        with pytest.raises(BadRequest):
            await graph.followers_page(db, user.id, cursor=bad)
    for limit in (0, -1, graph.MAX_LIMIT + 1):
        with pytest.raises(BadRequest):
            await graph.following_page(db, user.id, limit=limit)


# --- blocks -----------------------------------------------------------------


async def test_block_drops_follows_both_ways_and_forbids_following(db):
    a, b = await new_user(db), await new_user(db)
    await graph_writes.follow(db, a.id, b.id)
    await graph_writes.follow(db, b.id, a.id)
    assert await counts(db, a.id) == (1, 1)

    assert await graph_writes.block(db, a.id, b.id) is True
    assert await graph_writes.block(db, a.id, b.id) is False
    assert await counts(db, a.id) == (0, 0) and await counts(db, b.id) == (0, 0)
    assert await doc_count(db, "follows", {"_id": {"$in": [f"{a.id}:{b.id}", f"{b.id}:{a.id}"]}}) == 0
    assert await graph.is_blocked_between(db, a.id, b.id)
    assert await graph.is_blocked_between(db, b.id, a.id)

    with pytest.raises(Forbidden):  # the blocker is told to unblock first
        await graph_writes.follow(db, a.id, b.id)
    with pytest.raises(NotFound):  # the blocked one cannot tell the blocker exists
        await graph_writes.follow(db, b.id, a.id)
    assert await counts(db, a.id) == (0, 0) and await counts(db, b.id) == (0, 0)
    assert (await graph.relationship(db, a.id, b.id)).blocking is True
    assert (await graph.relationship(db, b.id, a.id)).blocking is False

    with pytest.raises(BadRequest):
        await graph_writes.block(db, a.id, a.id)

    assert await graph_writes.unblock(db, a.id, b.id) is True
    assert await graph_writes.unblock(db, a.id, b.id) is False
    assert not await graph.is_blocked_between(db, a.id, b.id)
    assert not await graph.is_following(db, a.id, b.id)  # follows are not restored
    assert await graph_writes.follow(db, b.id, a.id) is True


async def test_lists_hide_users_across_a_block_with_the_viewer(db):
    star, viewer, blocked, fine = [await new_user(db) for _ in range(4)]
    for fan in (blocked, fine):
        await graph_writes.follow(db, fan.id, star.id)
    await graph_writes.block(db, blocked.id, viewer.id)  # either direction hides
    page = await graph.followers_page(db, star.id, viewer=viewer.id)
    assert [u.id for u in page.data] == [fine.id]
    page = await graph.followers_page(db, star.id)
    assert {u.id for u in page.data} == {fine.id, blocked.id}
    assert await graph.blocked_among(db, viewer.id, [blocked.id, fine.id, star.id]) == {blocked.id}


async def test_a_cached_token_stops_working_once_revoked(stores):
    """Resolving caches the answer in Redis; revocation must win over the cache,
    for one token and for sign-out-everywhere."""
    import uuid

    from accounts import tokens

    user_id = "user_cache" + uuid.uuid4().hex[:16]
    one, two = await tokens.issue(stores, user_id), await tokens.issue(stores, user_id)
    for issued in (one, two):
        assert await tokens.resolve(stores, issued.token) == user_id  # fills the cache
        assert await tokens.resolve(stores, issued.token) == user_id  # served from it
    assert await tokens.revoke(stores, one.token)
    assert await tokens.resolve(stores, one.token) is None
    assert await tokens.resolve(stores, two.token) == user_id
    assert await tokens.revoke_all(stores, user_id) == 1
    assert await tokens.resolve(stores, two.token) is None
