"""The long-term taste's Redis side (``feed.ranking.interest``), on the session's real Valkey."""

from __future__ import annotations

import uuid

import numpy as np

from feed.ranking import interest as taste


async def record(stores, user_id: str, author_id: str, event: str, embedding, current):
    async with stores.redis.pipeline(transaction=False) as pipe:
        updated, queued = taste.record_commands(
            pipe, stores, user_id, author_id=author_id, embedding=embedding, sig=taste.signal(event), current=current
        )
        replies = await pipe.execute()
    await taste.recorded(stores, user_id, taste.signal(event), replies[:queued])
    return updated


async def test_a_signal_moves_the_stored_vector_and_affinity_and_the_affinities_stay_bounded(stores, monkeypatch):
    monkeypatch.setattr(taste, "MAX_AFFINITY_AUTHORS", 5)
    user = "user_" + uuid.uuid4().hex
    emb = np.zeros(8, dtype=np.float32)
    emb[0] = 1.0

    updated = await record(stores, user, "author_liked", "like", emb, None)
    vector, affinity = await taste.load(stores, user)
    assert np.allclose(vector, updated) and np.allclose(await taste.stored(stores, user), updated)
    assert affinity == {"author_liked": taste.signal("like").affinity}

    # past the bound, the weakest ties go and the strongest stay
    for i in range(6):
        await record(stores, user, f"author_{i}", "complete" if i % 2 else "skip", emb, vector)
    _, affinity = await taste.load(stores, user)
    # like +2.0, complete +1.0, skip -0.5: each trim drops a skip, the weakest tie
    assert len(affinity) == 5
    assert {a for a, v in affinity.items() if v > 0} == {"author_liked", "author_1", "author_3", "author_5"}
    assert [v for v in affinity.values() if v < 0] == [taste.signal("skip").affinity]
