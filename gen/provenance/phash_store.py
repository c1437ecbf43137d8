"""Where the perceptual hashes live: the ``provenance_phashes`` collection
(one document per finished video, ``{_id: video_id, hashes: [int64],
added_at}``; hashes as signed 64-bit integers), written by the worker when
it stores a clip, kept after the video is deleted (as its key is), and the
in-memory ``HashIndex`` a process keeps in step with it.

``LiveIndex.refresh`` reads everything once, then only what was added since
(an index on ``added_at``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pymongo import ASCENDING

from core.clock import utcnow
from core.stores import Stores
from gen.provenance.phash import from_signed, to_signed
from gen.provenance.phash_index import HashIndex


def _collection(stores: Stores):
    return stores.db["provenance_phashes"]


async def ensure_indexes(stores: Stores) -> None:
    await _collection(stores).create_index([("added_at", ASCENDING)], name="added_at")


async def record(stores: Stores, video_id: str, hashes: list[int]) -> None:
    """Store ``video_id``'s frame hashes (a retried job replaces them)."""
    await _collection(stores).replace_one(
        {"_id": video_id}, {"_id": video_id, "hashes": [to_signed(h) for h in hashes], "added_at": utcnow()}, upsert=True
    )


async def hashes_of(stores: Stores, video_id: str) -> list[int] | None:
    doc = await _collection(stores).find_one({"_id": video_id})
    return None if doc is None else [from_signed(h) for h in doc["hashes"]]


class LiveIndex:
    """A ``HashIndex`` of every stored video, brought up to date before each use."""

    SLACK = timedelta(seconds=5)  # re-read this far back: writers' clocks and commits are not in order

    def __init__(self) -> None:
        self.index = HashIndex()
        self._seen: dict[str, datetime] = {}
        self._since: datetime | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, stores: Stores) -> HashIndex:
        async with self._lock:
            query = {} if self._since is None else {"added_at": {"$gte": self._since - self.SLACK}}
            newest = self._since
            async for doc in _collection(stores).find(query):
                added = doc["added_at"]
                newest = added if newest is None or added > newest else newest
                if self._seen.get(doc["_id"]) == added:
                    continue
                self._seen[doc["_id"]] = added
                self.index.add(doc["_id"], [from_signed(h) for h in doc["hashes"]])
            self._since = newest
        return self.index
