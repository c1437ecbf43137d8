"""One-time data migrations. Each is named; once it has completed on a
database, the ``migrations`` collection records it and later starts skip it.
A step must be idempotent: api processes starting together may both run it,
and a step cut short runs again at the next start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.clock import utcnow
from core.stores import Stores


async def run_once(stores: Stores, name: str, step: Callable[[Stores], Awaitable[None]]) -> bool:
    """Run ``step`` unless ``name`` is recorded as done; True when it ran."""
    if await stores.db.migrations.find_one({"_id": name}, {"_id": 1}) is not None:
        return False
    await step(stores)
    await stores.db.migrations.update_one({"_id": name}, {"$set": {"done_at": utcnow()}}, upsert=True)
    return True
