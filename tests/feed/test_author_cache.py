"""The feed runtime's cache of authors' public profiles
(``feed.live.author_cache``): a profile shown before is answered at once,
and read again in the background once it is older than ``AUTHOR_TTL_S``;
one older than ``AUTHOR_STALE_S`` (or never read) is read on the path; an
author who is gone drops out. On a world of its own, against its real
Mongo."""

from __future__ import annotations

import asyncio

import pytest

from feed.live import author_cache
from feed.live import runtime as feed_runtime
from tests.feed.test_ranking import make_authors, new_world, seed_posts
from tests.feed.test_shortlist_reuse import runtime_and_viewer


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


def count_profile_reads(monkeypatch) -> list[list[str]]:
    """The ids of every profile read the feed runtime makes from now on, one sorted list per read."""
    reads: list[list[str]] = []
    real = author_cache.get_users

    async def counted(stores, user_ids):
        reads.append(sorted(user_ids))
        return await real(stores, user_ids)

    monkeypatch.setattr(author_cache, "get_users", counted)
    return reads


async def until(check, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the background read did not land"
        await asyncio.sleep(0.01)


async def test_an_old_profile_is_shown_while_it_is_read_again_and_a_gone_author_drops_out(world, monkeypatch):
    renamed, gone = await make_authors(world.stores, 2)
    async with runtime_and_viewer(world.stores) as (rt, _):
        assert rt.authors.cached([renamed]) is None  # never read: the caller reads it
        first = await rt.authors.get([renamed, gone])
        assert set(first) == {renamed, gone}
        assert rt.authors.cached([renamed, gone]) == first  # fresh: no read

        await world.stores.db.users.update_one({"_id": renamed}, {"$set": {"display_name": "Renamed"}})
        await world.stores.db.users.delete_one({"_id": gone})
        monkeypatch.setattr(author_cache, "AUTHOR_TTL_S", 0.0)  # every entry is now due
        shown = rt.authors.cached([renamed, gone])
        assert shown == first  # answered at once, as it was
        await until(lambda: (rt.authors.cached([renamed]) or {}).get(renamed, first[renamed]).display_name == "Renamed")
        assert rt.authors.cached([gone]) is None  # read again and not found: no longer cached
        assert gone not in await rt.authors.get([renamed, gone])

        await world.stores.db.users.update_one({"_id": renamed}, {"$set": {"display_name": "Again"}})
        monkeypatch.setattr(author_cache, "AUTHOR_STALE_S", 0.0)  # too old to show: read on the path
        assert rt.authors.cached([renamed]) is None
        assert (await rt.authors.get([renamed]))[renamed].display_name == "Again"


async def test_profiles_due_within_the_gathering_time_are_read_again_in_one_read(world, monkeypatch):
    authors = await make_authors(world.stores, 3)
    reads = count_profile_reads(monkeypatch)
    async with runtime_and_viewer(world.stores) as (rt, _):
        await rt.authors.get(authors)
        assert reads == [sorted(authors)]
        for uid in authors:
            await world.stores.db.users.update_one({"_id": uid}, {"$set": {"display_name": f"new {uid}"}})
        monkeypatch.setattr(author_cache, "AUTHOR_TTL_S", 0.0)  # every entry is now due
        monkeypatch.setattr(author_cache, "AUTHOR_GATHER_S", 0.2)
        for uid in authors:  # shown one by one, as items go out
            assert rt.authors.cached([uid]) is not None
            await asyncio.sleep(0.01)
        await until(lambda: all(rt.authors.cached([uid])[uid].display_name == f"new {uid}" for uid in authors))
        assert reads[1] == sorted(authors)  # one read for the three


async def test_the_authors_of_the_pool_are_read_ahead(world, monkeypatch):
    authors = await make_authors(world.stores, 3)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip by {a[-4:]}"} for a in authors])
    monkeypatch.setattr(feed_runtime, "POOL_REFRESH_S", 0.05)
    async with runtime_and_viewer(world.stores) as (rt, _):
        # nothing showed them: the runtime read them with its pool, so the first item shown waits for no read
        await until(lambda: rt.authors.cached(authors) is not None)
        assert {a.id for a in rt.authors.cached(authors).values()} == set(authors)
        rt.warm_authors = False  # (as in the opening builder): a new author's profile is read only when shown
        late = (await make_authors(world.stores, 1))[0]
        await seed_posts(world.stores, [{"author_id": late, "caption": "late"}])
        await rt.pool.refresh()
        assert late in rt.pool.by_author
        await asyncio.sleep(0.2)
        assert rt.authors.cached([late]) is None
