"""A post's embedding is stored as float32 bytes (``feed.social.posts``),
written by publishing through the api and read back the same by the post
reads and the catalogue index's builder; documents written before, with a
list of numbers, are still read."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from feed.live.index_builder import IndexBuilder
from feed.ranking.embeddings import embed_async, post_text
from feed.social import posts
from tests.conftest import signup
from tests.feed.test_ranking import make_authors, new_world, seed_posts
from tests.feed.test_social import new_post


async def test_publishing_stores_the_embedding_as_float32_bytes(http, stores):
    author = await signup(http)
    made = await new_post(http, stores, author, "a heron fishing at dawn")
    raw = await stores.db["posts"].find_one({"_id": made["id"]})
    assert isinstance(raw["embedding"], bytes) and len(raw["embedding"]) == 384 * 4
    read = await posts.get_post(stores, made["id"])
    [expected] = await embed_async([post_text(read.prompt, read.caption)])
    assert np.allclose(read.embedding, expected, atol=1e-6)
    assert np.array_equal(posts.embedding_of(raw), np.asarray(read.embedding, dtype=np.float32))
    # the reads without embeddings still leave them out
    assert (await posts.get_posts(stores, [made["id"]], embeddings=False))[made["id"]].embedding is None
    got, vectors, counts = await posts.get_posts_vectors_and_counts(stores, [made["id"]])
    assert got[made["id"]].embedding is None and vectors[made["id"]].dtype == np.float32  # an array, never a list
    assert np.allclose(vectors[made["id"]], expected, atol=1e-6) and counts[made["id"]]["likes"] == 0


def test_a_post_without_an_embedding_stores_none():
    post = posts.Post(id="post_x", author_id="user_x", video_id="video_x", caption="", created_at=datetime.now(UTC))
    doc = posts.post_doc(post)
    assert doc["embedding"] is None and posts.embedding_of(doc) is None
    assert posts.embedding_of({"embedding": b""}) is None and posts.embedding_of({}) is None


async def test_documents_with_a_list_are_still_read_and_indexed(settings, tmp_root):
    async with new_world(settings, tmp_root) as world:
        [author] = await make_authors(world.stores, 1)
        new, old = await seed_posts(
            world.stores, [{"author_id": author, "caption": "a red kite over the hills"}, {"author_id": author, "caption": "tide pools at low water"}]
        )
        # the older shape: the embedding as a list of numbers
        await world.stores.db["posts"].update_one({"_id": old.id}, {"$set": {"embedding": [float(x) for x in old.embedding]}})
        assert isinstance((await world.stores.db["posts"].find_one({"_id": old.id}))["embedding"], list)
        assert isinstance((await world.stores.db["posts"].find_one({"_id": new.id}))["embedding"], bytes)

        read = await posts.get_posts(world.stores, [new.id, old.id])
        for post in (new, old):
            assert np.allclose(read[post.id].embedding, post.embedding, atol=1e-6)

        builder = IndexBuilder(world.stores)
        assert await builder.refresh() and builder.count == 2
        by_id = dict(zip(builder.ids, np.concatenate(builder.vectors)))
        for post in (new, old):
            assert np.allclose(by_id[post.id], post.embedding, atol=1e-2)  # the builder keeps float16
