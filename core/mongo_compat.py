"""What differs between MongoDB and the embedded nx-27017 server, in one place.

nx-27017 accepts a compound index that contains ``_id`` but then refuses every
insert into the collection ("JSON path error near '_id'"). The queries are
the same on both servers, with two exceptions kept here: the index that
serves "newest of one owner" (owner, _id desc) is narrowed to (owner)
there, and a scan of a whole collection reads pages of a sort on ``_id``
by offset there (by ``_id`` range on MongoDB). See docs/MONGO-COMPAT.md."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pymongo import ASCENDING, DESCENDING

from core.stores import Stores


async def is_nx27017(stores: Stores) -> bool:
    if stores.flavour is None:
        info = await stores.db.command("buildInfo")
        stores.flavour = "nx-27017" if str(info.get("process", "")).startswith("nx_27017") else "mongodb"
    return stores.flavour == "nx-27017"


async def ensure_newest_by_index(stores: Stores, collection: str, field: str, name: str) -> None:
    """An index for ``find({field: …}).sort("_id", -1)``."""
    keys = [(field, ASCENDING)] if await is_nx27017(stores) else [(field, ASCENDING), ("_id", DESCENDING)]
    await stores.db[collection].create_index(keys, name=name)


async def pages_by_id(stores: Stores, collection: str, projection: dict, page: int) -> AsyncIterator[list[dict]]:
    """Every document of ``collection``, in ``_id`` order, ``page`` at a time.

    On MongoDB each page is a range after the last ``_id`` (an index scan).
    nx-27017 builds a find's whole answer before it sends the first batch:
    one find over 100,000 posts with their embeddings held it for about 25
    s, so every other client's queries waited and the driver's monitor gave
    up on the server, dropping the cursor (the scan then ended early, with
    no error). An ``_id`` range filter there is not served by SQL (15 s a
    page at 100,000), but a sort on ``_id`` with an offset and a limit is:
    about 0.4 s a page of 1,000 there, flat to the end. A document inserted
    during the scan lands after the pages read (ids grow with time); one
    deleted during it can make the offset skip one document, which the
    next scan reads."""
    col = stores.db[collection]
    by_offset = await is_nx27017(stores)
    offset, last = 0, None
    while True:
        if by_offset:
            cursor = col.find({}, projection).sort("_id", ASCENDING).skip(offset)
        else:
            cursor = col.find({"_id": {"$gt": last}} if last is not None else {}, projection).sort("_id", ASCENDING)
        docs = await cursor.limit(page).to_list()
        if docs:
            yield docs
        if len(docs) < page:
            return
        offset, last = offset + len(docs), docs[-1]["_id"]
