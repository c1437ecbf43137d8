"""What differs between MongoDB and the embedded nx-27017 server, in one place.

nx-27017 accepts a compound index that contains ``_id`` but then refuses every
insert into the collection ("JSON path error near '_id'"). The queries are
the same on both servers; only the index that serves "newest of one owner"
(owner, _id desc) is narrowed to (owner) there. See docs/MONGO-COMPAT.md."""

from __future__ import annotations

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
