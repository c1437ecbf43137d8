"""``core.mongo_compat.pages_by_id``: a whole collection in ``_id`` order,
a page at a time, on the real embedded server: the offset pages nx-27017
serves, and the ``_id`` ranges MongoDB serves (run here too, on the same
documents, by naming the flavour)."""

from __future__ import annotations

import uuid

import pytest

from core import mongo_compat


@pytest.mark.parametrize("flavour", ["nx-27017", "mongodb"])
async def test_every_document_once_in_id_order(stores, flavour):
    name = f"pages_{uuid.uuid4().hex[:8]}"
    ids = [f"doc_{i:05d}" for i in range(2_345)]
    shuffled = ids[1::2] + ids[0::2]  # inserted out of order
    await stores.db[name].insert_many([{"_id": i, "n": int(i[4:]), "blob": "x" * 50} for i in shuffled])
    real = stores.flavour
    await mongo_compat.is_nx27017(stores)
    if stores.flavour == "nx-27017":
        stores.flavour = flavour  # the other path's queries, asked of the same server
    try:
        pages = [page async for page in mongo_compat.pages_by_id(stores, name, {"_id": 1, "n": 1}, 1_000)]
    finally:
        stores.flavour = real
    assert [len(p) for p in pages] == [1_000, 1_000, 345]
    got = [doc["_id"] for page in pages for doc in page]
    assert got == ids
    assert all(set(doc) == {"_id", "n"} for page in pages for doc in page)  # the projection holds


async def test_an_exact_multiple_of_the_page_ends_without_an_empty_page(stores):
    name = f"pages_{uuid.uuid4().hex[:8]}"
    await stores.db[name].insert_many([{"_id": f"d{i:03d}"} for i in range(20)])
    pages = [page async for page in mongo_compat.pages_by_id(stores, name, {"_id": 1}, 10)]
    assert [len(p) for p in pages] == [10, 10]
    assert [page async for page in mongo_compat.pages_by_id(stores, f"{name}_none", {"_id": 1}, 10)] == []
