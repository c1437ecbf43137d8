"""The catalogue index (``feed.ranking.ann``, written by
``feed.live.index_builder``, read by ``feed.live.catalogue``): the similar
source reaches posts older than the pool holds, a new version replaces the
old one for readers without a restart, and a post deleted since the index
was written is not served.

Each test runs in a world of its own (tests.feed.test_ranking.new_world),
with a pool far smaller than the catalogue, as a big catalogue has."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from feed.live import catalogue as catalogue_reads
from feed.live import ranker
from feed.live.index_builder import IndexBuilder
from feed.live.runtime import FeedRuntime
from feed.ranking import ann, interest
from feed.ranking.pool import PostPool
from feed.ranking.embeddings import embed_async
from feed.serving import sessions
from feed.social import posts as feed_posts
from tests.feed.test_ranking import make_authors, make_user, new_world, seed_posts

CATS = [
    "a cat playing the piano", "kitten plays a grand piano in the living room", "my cat performs a piano sonata",
    "tabby cat pressing piano keys with its paws", "fluffy cat composing music on an upright piano",
    "two kittens playing a piano duet", "cat pianist gives a concert", "black cat playing jazz piano",
]
SKIING = [
    "skiing down a snowy mountain", "fresh powder on the ski slopes at dawn", "a skier carving turns in the alps",
    "backcountry skiing through deep snow", "ski jump off a huge kicker", "slalom racer skiing through gates",
    "snowy peaks and a long ski run", "cross country skiing across a frozen valley",
]
POOL = 8


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


async def a_catalogue(world) -> tuple[list, list, FeedRuntime]:
    """Old cat posts (outside the pool), new skiing posts (the pool), a runtime whose pool holds the newest ``POOL``."""
    authors = await make_authors(world.stores, 16)
    cats = await seed_posts(world.stores, [{"author_id": authors[i], "caption": c, "age_h": 48 + i} for i, c in enumerate(CATS)])
    skis = await seed_posts(world.stores, [{"author_id": authors[8 + i], "caption": c, "age_h": i * 0.1} for i, c in enumerate(SKIING)])
    rt = FeedRuntime(world.stores, pool_size=POOL)
    rt.warm_authors = False
    await rt.start()
    await rt.pool.refresh()
    return cats, skis, rt


async def picks_for(rt: FeedRuntime, user: dict, direction: np.ndarray, n: int) -> list:
    state = sessions.new(rt.stores, user_id=user["user"]["id"], kind="for_you", window=n, interest=interest.to_bytes(direction))
    viewer = await rt.viewers.viewer(user["user"]["id"])
    source = ranker.for_you(rt, state, viewer, follow_graph=False)
    await source.prepare()
    return await source.next(n)


async def test_similar_reaches_posts_the_pool_does_not_hold(world):
    cats, skis, rt = await a_catalogue(world)
    try:
        assert set(rt.pool.rows) == {p.id for p in skis}  # the cats are too old for the pool
        user = await make_user(world.stores)
        cat_taste = np.asarray((await embed_async(["a cat playing the piano"]))[0], dtype=np.float32)

        before = await picks_for(rt, user, cat_taste, 8)
        assert not {p.post.id for p in before} & {c.id for c in cats}  # no index yet: the pool alone

        indexer = IndexBuilder(world.stores)
        assert await indexer.refresh() and indexer.count == len(cats) + len(skis)
        rt.catalogue._checked_at = 0.0  # look for the index now rather than within CHECK_S
        counted = {s: catalogue_reads.NAMED.labels(s)._value.get() for s in ("at_hand", "to_read")}
        read = catalogue_reads.POSTS_READ._value.get()
        first = await picks_for(rt, await make_user(world.stores), cat_taste, 8)  # asks for the posts beyond the pool
        assert not {p.post.id for p in first} & {c.id for c in cats}  # nothing waits on their read
        assert rt.catalogue.rows.allocated == indexer.count < catalogue_reads.KEEP  # reserved whole for what the index can name
        await rt.catalogue.settled()
        assert catalogue_reads.NAMED.labels("to_read")._value.get() - counted["to_read"] == len(cats)
        assert catalogue_reads.POSTS_READ._value.get() - read == len(cats)
        assert catalogue_reads.ROWS_KEPT._value.get() == len(rt.catalogue.rows) == len(cats)  # the gauge the bench samples
        other = await make_user(world.stores)
        after = await picks_for(rt, other, cat_taste, 8)
        assert catalogue_reads.NAMED.labels("at_hand")._value.get() - counted["at_hand"] >= len(cats)  # the second ask found them read
        reached = [p for p in after if p.post.id in {c.id for c in cats}]
        assert reached and all(p.source == "similar" for p in reached)
        assert len({p.post.id for p in after}) == len(after)
        assert all(rt.pool.post(p.post.id) is not None for p in reached)  # rendered from memory
    finally:
        await rt.stop()


async def test_readers_switch_to_a_new_version_and_leave_out_deleted_posts(world):
    cats, skis, rt = await a_catalogue(world)
    try:
        indexer = IndexBuilder(world.stores)
        await indexer.refresh()
        rt.catalogue._checked_at = 0.0
        first = rt.catalogue.index()
        assert first is not None and len(first) == len(cats) + len(skis)

        authors = await make_authors(world.stores, 1)
        [late] = await seed_posts(world.stores, [{"author_id": authors[0], "caption": "a cat playing the violin", "age_h": 30}])
        assert await indexer.refresh()  # taken in: a new version
        rt.catalogue._checked_at = 0.0
        second = rt.catalogue.index()
        assert second.version == first.version + 1 and late.id in rt.catalogue.nearest(
            np.asarray((await embed_async(["a cat playing the violin"]))[0], dtype=np.float32), 5)
        assert not await indexer.refresh()  # nothing new: no version written
        assert ann.read_current(indexer.directory)["version"] == second.version

        await world.stores.db["posts"].delete_one({"_id": cats[0].id})  # gone, still in the index
        user = await make_user(world.stores)
        taste = np.asarray((await embed_async([CATS[0]]))[0], dtype=np.float32)
        assert cats[0].id in rt.catalogue.nearest(taste, 5)
        await picks_for(rt, await make_user(world.stores), taste, 10)
        await rt.catalogue.settled()
        picked = {p.post.id for p in await picks_for(rt, user, taste, 10)}
        assert cats[0].id not in picked and picked & {c.id for c in cats[1:]}
        assert (await feed_posts.get_posts(world.stores, [cats[0].id])) == {}
    finally:
        await rt.stop()


async def test_a_large_index_is_searched_off_the_event_loop(world, monkeypatch):
    """From ``OFF_LOOP_FROM`` posts a search runs on a thread (FAISS lets go of
    the GIL), with the same answer; below it, on the loop."""
    cats, skis, rt = await a_catalogue(world)
    try:
        assert await IndexBuilder(world.stores).refresh()
        rt.catalogue._checked_at = 0.0
        taste = np.asarray((await embed_async([CATS[0]]))[0], dtype=np.float32)
        threads: list[int] = []
        search = ann.Catalogue.search

        def watched(self, vector, k):
            threads.append(threading.get_ident())
            return search(self, vector, k)

        monkeypatch.setattr(ann.Catalogue, "search", watched)
        off_loop = catalogue_reads.OFF_LOOP._value.get()
        on_loop = await rt.catalogue.nearest_async(taste, 5)
        assert threads == [threading.get_ident()] and catalogue_reads.OFF_LOOP._value.get() == off_loop
        monkeypatch.setattr(catalogue_reads, "OFF_LOOP_FROM", len(cats) + len(skis))
        assert await rt.catalogue.nearest_async(taste, 5) == on_loop and cats[0].id in on_loop
        assert threads[1] != threads[0] and catalogue_reads.OFF_LOOP._value.get() == off_loop + 1
    finally:
        await rt.stop()


def test_versions_are_replaced_whole_and_old_ones_cleared(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"post_{i:04d}" for i in range(50)]
    catalogue = ann.build(ids, vectors)
    for _ in range(ann.KEEP + 2):
        version = ann.save(catalogue, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([ann.CURRENT] + [f"catalogue-{v}.{ext}" for v in range(version - ann.KEEP + 1, version + 1) for ext in ("faiss", "ids.npy")])
    opened = ann.open_current(tmp_path)
    assert opened.version == version and opened.search(vectors[7], 1) == ["post_0007"]


def test_a_large_catalogue_gets_the_inverted_index_memory_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(ann, "EXACT_BELOW", 100)
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((20, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 20, 2000)] + rng.standard_normal((2000, 384)).astype(np.float32) * 0.2
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"post_{i:05d}" for i in range(2000)]
    ann.save(ann.build(ids, vectors), tmp_path)
    opened = ann.open_current(tmp_path)
    assert type(opened.index).__name__ == "IndexIVFScalarQuantizer" and isinstance(opened.ids, np.memmap)
    assert opened.index.code_size == 384 // 2  # 4 bits a dimension: an eighth of the float32 vectors
    exact = np.argsort(-(vectors @ vectors[11]))[:50]
    got = opened.search(vectors[11], 50)
    # about 100 posts a topic: a pick at random within the right topic would share about 25 of the exact 50
    assert got[0] == "post_00011" and len(set(got) & {ids[i] for i in exact}) >= 35


async def test_a_session_asks_the_catalogue_again_only_when_its_answer_would_change(world):
    """A rebuild for age or a few swipes reuses the session's last whole
    answer; a taste that moved, a new index version, or an answer that was
    still waiting for reads asks again."""
    cats, skis, rt = await a_catalogue(world)
    try:
        indexer = IndexBuilder(world.stores)
        await indexer.refresh()
        rt.catalogue._checked_at = 0.0
        asked: list[int] = []
        similar = rt.catalogue.similar

        async def counted(direction, **kw):
            answer = await similar(direction, **kw)
            asked.append(len(rt.catalogue.extras(answer[0])))
            return answer

        rt.catalogue.similar = counted
        cat_taste = np.asarray((await embed_async(["a cat playing the piano"]))[0], dtype=np.float32)
        ski_taste = np.asarray((await embed_async(["skiing down a snowy mountain"]))[0], dtype=np.float32)
        user = await make_user(world.stores)
        state = sessions.new(rt.stores, user_id=user["user"]["id"], kind="for_you", window=4, interest=interest.to_bytes(cat_taste))
        source = ranker.for_you(rt, state, await rt.viewers.viewer(user["user"]["id"]), follow_graph=False)
        await source.prepare()
        now = source.clock()

        await source._build(now, cat_taste)  # the rows beyond the pool are not read yet: not whole
        await rt.catalogue.settled()
        await source._build(now, cat_taste)
        assert len(asked) == 2 and asked[1] > 0
        await source._build(now + 5, cat_taste)  # age: the same answer
        assert len(asked) == 2
        await source._build(now + 6, ski_taste)  # the taste moved
        assert len(asked) == 3
        [late] = await seed_posts(world.stores, [{"author_id": (await make_authors(world.stores, 1))[0], "caption": "a cat on a piano stool", "age_h": 30}])
        assert await indexer.refresh()
        rt.catalogue._checked_at = 0.0
        await source._build(now + 7, ski_taste)  # a new version of the index
        assert len(asked) == 4
    finally:
        await rt.stop()


def test_the_reader_keeps_to_its_posts_a_second():
    """``pace``: the wait after a chunk that keeps reads to the bound (none without one)."""
    assert catalogue_reads.pace(100, 0.05, per_s=400) == pytest.approx(0.2)  # 100 posts are a quarter second's share
    assert catalogue_reads.pace(100, 0.3, per_s=400) == 0.0  # the read itself took longer than its share
    assert catalogue_reads.pace(100, 0.0, per_s=0) == 0.0  # 0: unbounded


async def test_past_the_pending_bound_the_newest_asks_are_kept(world, tmp_path, monkeypatch):
    """Reads are bounded, so asks can come faster than they are read: the
    queue keeps the newest (and an id asked again moves to the back), and the
    reader takes the newest ask first, nearest first."""
    monkeypatch.setattr(catalogue_reads, "PENDING", 4)
    reader = catalogue_reads.CatalogueReader(world.stores, PostPool(world.stores), directory=tmp_path)
    busy = asyncio.get_running_loop().create_future()
    reader._reader = busy  # the reader is mid-read: asks only queue
    reader._want(["a", "b", "c"])
    reader._want(["d", "a", "e"])
    assert list(reader._pending) == ["b", "e", "a", "d"]  # the back is read first: d, the newest ask's nearest
    reader._want([f"n{i}" for i in range(10)])
    assert list(reader._pending) == ["n3", "n2", "n1", "n0"]  # one ask's nearest, at most PENDING
    busy.cancel()

    order: list[list[str]] = []

    async def read(post_ids, now):
        order.append(post_ids)

    monkeypatch.setattr(catalogue_reads, "READ_CHUNK", 2)
    monkeypatch.setattr(catalogue_reads, "PENDING", 10)
    reader._read = read
    reader._reader = None
    reader._pending.clear()
    reader._want(["old1", "old2"])  # starts the reader: it reads once the loop lets it
    reader._want(["new1", "new2", "new3"])
    await reader.settled()
    assert order == [["new1", "new2"], ["new3", "old1"], ["old2"]]
