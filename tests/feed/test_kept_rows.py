"""The catalogue reader's kept posts as columns (``feed.live.kept_rows``):
the table a shortlist gets is the one the rows would have built, the post
used longest ago gives its slot up, and a reserve allocates the block whole."""

from __future__ import annotations

import numpy as np
import pytest

from feed.live.kept_rows import KeptRows
from feed.ranking.features import COUNT_FIELDS, build_table

DIM = 8


def a_post(n: int, rng: np.random.Generator) -> tuple:
    counts = {name: int(rng.integers(0, 1000)) for name in COUNT_FIELDS}
    return f"post_{n}", f"user_{n % 3}", 1_700_000_000.0 + n, rng.standard_normal(DIM).astype(np.float32) * (n + 1), counts


def test_its_table_is_the_table_the_rows_build():
    rng = np.random.default_rng(7)
    posts = [a_post(n, rng) for n in range(10)]
    posts[3] = (*posts[3][:3], None, None)  # no embedding, no counters
    posts[4] = (*posts[4][:3], np.ones(DIM + 1, dtype=np.float32), {"likes": 2, "views": None})  # a wrong length
    rows = KeptRows(16, DIM)
    for pid, author, created, vector, counts in posts:
        assert rows.put(pid, author, created, vector, counts, read_at=5.0) is None
    asked = ["post_9", "post_3", "post_unknown", "post_4", "post_0"]
    got = rows.table(asked)
    want = build_table([p for p in posts if p[0] in asked and p[0] != "post_unknown"], DIM).take([3, 1, 2, 0])
    assert got.ids == ["post_9", "post_3", "post_4", "post_0"] == want.ids
    assert got.authors == want.authors
    np.testing.assert_array_equal(got.created, want.created)
    np.testing.assert_allclose(got.embeddings, want.embeddings, rtol=1e-6)
    assert np.allclose(np.linalg.norm(got.embeddings[[0, 3]], axis=1), 1.0) and not got.embeddings[1:3].any()
    for name in COUNT_FIELDS:
        np.testing.assert_array_equal(got.count(name), want.count(name))
    assert got.count("likes")[2] == 2 and got.count("views")[2] == 0
    assert len(rows.table([])) == 0 and rows.table([]).embeddings.shape == (0, DIM)


def test_the_post_used_longest_ago_gives_its_slot_up():
    rng = np.random.default_rng(1)
    rows = KeptRows(3, DIM)
    for n in range(3):
        rows.put(*a_post(n, rng), read_at=float(n))
    rows.table(["post_0"])  # post_0 used now: post_1 is the oldest used
    assert rows.put(*a_post(3, rng), read_at=3.0) == "post_1"
    assert "post_1" not in rows and {"post_0", "post_2", "post_3"} == {p for p in ["post_0", "post_1", "post_2", "post_3"] if p in rows}
    assert rows.read_at_of("post_1") is None and rows.read_at_of("post_3") == 3.0
    assert rows.table(["post_1", "post_3"]).ids == ["post_3"]
    again = a_post(2, rng)  # read again: refreshed in its slot, nobody evicted
    assert rows.put(again[0], again[1], again[2], again[3], {"likes": 99}, read_at=9.0) is None
    assert rows.read_at_of("post_2") == 9.0 and rows.table(["post_2"]).count("likes")[0] == 99
    assert len(rows) == 3 == rows.allocated


def test_a_dropped_post_frees_its_slot_for_the_next():
    rng = np.random.default_rng(2)
    rows = KeptRows(2, DIM)
    rows.put(*a_post(0, rng), read_at=0.0)
    rows.put(*a_post(1, rng), read_at=0.0)
    assert rows.drop("post_0") and not rows.drop("post_0")
    assert rows.put(*a_post(2, rng), read_at=0.0) is None  # the freed slot, not post_1's
    assert "post_1" in rows and "post_2" in rows and len(rows) == 2
    assert rows.table(["post_0"]).ids == []


def test_a_reserve_allocates_the_block_whole_up_to_its_capacity():
    rows = KeptRows(1000, DIM)
    assert rows.allocated == 0
    rows.reserve(300)
    assert rows.allocated == 300 and rows.embeddings.shape == (300, DIM) and rows.counts.shape == (300, len(COUNT_FIELDS))
    rows.reserve(100)  # never shrinks
    assert rows.allocated == 300
    rng = np.random.default_rng(3)
    for n in range(301):
        rows.put(*a_post(n, rng), read_at=0.0)
    assert rows.allocated == 600 and len(rows) == 301  # past the reserve it doubles
    rows.reserve(5000)
    assert rows.allocated == 1000  # at most its capacity
    assert rows.table(["post_0", "post_300"]).ids == ["post_0", "post_300"]  # kept across the growth
    np.testing.assert_array_equal(rows.table(["post_5"]).created, [1_700_000_005.0])


def test_without_a_reserve_it_grows_only_as_posts_come():
    rng = np.random.default_rng(4)
    rows = KeptRows(20_000, DIM)
    rows.put(*a_post(0, rng), read_at=0.0)
    assert rows.allocated == 256
    with pytest.raises(ValueError):
        KeptRows(0, DIM)
