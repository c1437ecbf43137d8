"""The indexes of the cameos collections; ``ensure`` runs at every api start."""

from __future__ import annotations

from cameos import appearances, grants, identity, store
from core.stores import Stores


async def ensure(stores: Stores) -> None:
    """Create the indexes every cameos query relies on (idempotent)."""
    await store.ensure_indexes(stores)
    await grants.ensure_indexes(stores)
    await appearances.ensure_indexes(stores)
    await identity.ensure_indexes(stores)
