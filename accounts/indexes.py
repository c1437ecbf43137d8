"""The indexes of the accounts collections; ``ensure`` runs at every api start."""

from __future__ import annotations

import datetime

from pymongo import ASCENDING, DESCENDING, UpdateOne
from ulid import ULID

from accounts import follow_requests
from core import migrations
from core.clock import utcnow
from core.stores import Stores


async def ensure(stores: Stores) -> None:
    """Create the indexes every accounts query relies on (idempotent)."""
    db = stores.db
    # Handles are unique case-insensitively: the lower-cased copy carries the constraint.
    await db.users.create_index([("handle_lc", ASCENDING)], name="handle_lc_unique", unique=True)
    # Revoke-all by user; expired tokens are purged by servers that honour TTL
    # indexes and are refused by the lookup itself everywhere else.
    await db.tokens.create_index([("user_id", ASCENDING)], name="user_id")
    await db.tokens.create_index([("expires_at", ASCENDING)], name="expires_at_ttl", expireAfterSeconds=0)
    # Followers / following lists, newest first, paged on the sortable key `k`.
    await db.follows.create_index([("followee", ASCENDING), ("k", DESCENDING)], name="followee_k")
    await db.follows.create_index([("follower", ASCENDING), ("k", DESCENDING)], name="follower_k")
    # Blocks are looked up by their compound _id ("blocker:blocked"), and all
    # of one user's both ways when the feed caches the graph around them; a
    # user's own list of blocked accounts pages newest first on `k`.
    await db.blocks.create_index([("blocker", ASCENDING)], name="blocker")
    await db.blocks.create_index([("blocked", ASCENDING)], name="blocked")
    await db.blocks.create_index([("blocker", ASCENDING), ("k", DESCENDING)], name="blocker_k")
    await migrations.run_once(stores, KEY_OLD_BLOCKS, _key_old_blocks)
    # A private account's follow requests, newest first, and a user's own (accounts.follow_requests).
    await follow_requests.ensure_indexes(stores)


KEY_OLD_BLOCKS = "blocks.k"  # every block written by this code carries ``k``: the scan for older ones runs once


async def _key_old_blocks(stores: Stores) -> None:
    """Give blocks written before they carried ``k`` one made from their
    ``created_at``, so that they are listed, in their place (idempotent; a
    scan of the blocks, since no index finds a missing field on every store)."""
    writes = [
        UpdateOne({"_id": doc["_id"], "k": {"$exists": False}}, {"$set": {"k": str(ULID.from_datetime(_as_utc(doc.get("created_at"))))}})
        async for doc in stores.db.blocks.find({"k": {"$exists": False}}, {"created_at": 1})
    ]
    if writes:
        await stores.db.blocks.bulk_write(writes, ordered=False)


def _as_utc(when: datetime.datetime | None) -> datetime.datetime:
    """A stored time as an aware UTC time (a client opened without tz_aware reads it naive), or now when missing."""
    if when is None:
        return utcnow()
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)
