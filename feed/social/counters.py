"""A post's counters: exact in Mongo, fast in Redis, and in agreement.

Mongo is the source of truth: the counters are fields of the post document
(``likes``, ``comments``, ``views``, ``completes``, ``watch_ms``,
``remixes``, ``shares``) with a version ``cv``, moved by one atomic
``findAndModify`` (``$inc`` of the deltas and of ``cv``) that returns the
values after the change.

Redis holds a copy per post, a hash ``{ns}:counts:{post_id}`` of those fields
plus ``cv``, written by a small script that keeps the hash only if its
version is newer than what is there ("set if newer"). Every bump writes the
snapshot its own update produced, and a cache miss refills from Mongo the
same way, so writes that arrive out of order never move the copy backwards,
a bump that raced a refill can never be lost (as a blind HINCRBY on a key
refilled a moment before could be), and once writes stop the copy equals
Mongo. Hashes expire after a week without a bump or a refill.

Each bump is also PUBLISHed on ``{ns}:counts`` as ``{post_id, counts}`` for
live consumers (the swipe stream)."""

from __future__ import annotations

import msgspec
from pymongo import ReturnDocument, UpdateOne

from core.stores import Stores

FIELDS: tuple[str, ...] = ("likes", "comments", "views", "completes", "watch_ms", "remixes", "shares")
VERSION = "cv"
COUNTS_CHANNEL = "counts"  # published on stores.key(COUNTS_CHANNEL)
CACHE_TTL_S = 7 * 24 * 3600

_PROJECTION = {name: 1 for name in (*FIELDS, VERSION)}

# KEYS[1]: the hash; ARGV[1]: version; ARGV[2]: ttl seconds; ARGV[3..]: field, value, ...
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'cv')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'cv', ARGV[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


class CountsMessage(msgspec.Struct):
    """What ``bump`` publishes on the counts channel."""

    post_id: str
    counts: dict[str, int]


_encode = msgspec.json.Encoder().encode


def zero() -> dict[str, int]:
    return dict.fromkeys(FIELDS, 0)


def initial_fields() -> dict[str, int]:
    """The counter fields a new post document starts with."""
    return {**zero(), VERSION: 0}


def cache_key(stores: Stores, post_id: str) -> str:
    return stores.key("counts", post_id)


def _from_doc(doc: dict) -> dict[str, int]:
    return {name: int(doc.get(name) or 0) for name in FIELDS}


def _snapshot_args(version: int, counts: dict[str, int]) -> list:
    args: list = [version, CACHE_TTL_S]
    for name in FIELDS:
        args += [name, counts[name]]
    return args


async def _cache(stores: Stores, items: list[tuple[str, int, dict[str, int]]]) -> None:
    """Write (post_id, version, counts) snapshots, each only if newer than the cached one."""
    if not items:
        return
    script = stores.script(_SET_IF_NEWER)
    async with stores.redis.pipeline(transaction=False) as pipe:
        for post_id, version, counts in items:
            await script(keys=[cache_key(stores, post_id)], args=_snapshot_args(version, counts), client=pipe)
        await pipe.execute()


async def bump(stores: Stores, post_id: str, **deltas: int) -> dict[str, int]:
    """Add ``deltas`` to a post's counters; returns its counters after the
    change, or ``{}`` when there is no such post (nothing is written then)."""
    unknown = set(deltas) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    inc = {name: int(value) for name, value in deltas.items() if value}
    if not inc:
        return (await get_counts(stores, [post_id]))[post_id] if await _exists(stores, post_id) else {}
    doc = await stores.db["posts"].find_one_and_update(
        {"_id": post_id}, {"$inc": {**inc, VERSION: 1}}, projection=_PROJECTION, return_document=ReturnDocument.AFTER
    )
    if doc is None:
        return {}
    counts = _from_doc(doc)
    await _cache(stores, [(post_id, int(doc[VERSION]), counts)])
    await stores.redis.publish(stores.key(COUNTS_CHANNEL), _encode(CountsMessage(post_id, counts)))
    return counts


async def bump_many(stores: Stores, deltas: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """``bump`` for many posts in three round trips (one bulk ``$inc``, one
    read of the results, one Redis pipeline of snapshots and PUBLISHes).
    Returns the counters of the posts that exist, as read after the update
    (other bumps that landed meanwhile included: versions keep the cache
    moving forward only)."""
    updates, ids = [], []
    for post_id, inc in deltas.items():
        unknown = set(inc) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown counters: {sorted(unknown)}")
        moves = {name: int(value) for name, value in inc.items() if value}
        if moves:
            updates.append(UpdateOne({"_id": post_id}, {"$inc": {**moves, VERSION: 1}}))
            ids.append(post_id)
    if not updates:
        return {}
    col = stores.db["posts"]
    await col.bulk_write(updates, ordered=False)
    docs = await col.find({"_id": {"$in": ids}}, _PROJECTION).to_list()
    out = {doc["_id"]: _from_doc(doc) for doc in docs}
    script = stores.script(_SET_IF_NEWER)
    async with stores.redis.pipeline(transaction=False) as pipe:
        for doc in docs:
            await script(keys=[cache_key(stores, doc["_id"])], args=_snapshot_args(int(doc[VERSION]), out[doc["_id"]]), client=pipe)
            pipe.publish(stores.key(COUNTS_CHANNEL), _encode(CountsMessage(doc["_id"], out[doc["_id"]])))
        await pipe.execute()
    return out


async def _exists(stores: Stores, post_id: str) -> bool:
    return await stores.db["posts"].count_documents({"_id": post_id}, limit=1) == 1


async def _cached_counts(stores: Stores, ids: list[str]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """The counters Redis holds for ``ids`` (one round trip), and the ids it does not hold."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        for post_id in ids:
            pipe.hgetall(cache_key(stores, post_id))
        cached = await pipe.execute()
    out: dict[str, dict[str, int]] = {}
    missing: list[str] = []
    for post_id, found in zip(ids, cached):
        if found and b"cv" in found:
            out[post_id] = {name: int(found.get(name.encode(), 0)) for name in FIELDS}
        else:
            missing.append(post_id)
    return out, missing


async def get_counts(stores: Stores, post_ids: list[str]) -> dict[str, dict[str, int]]:
    """Counters of each post, from Redis; a miss is read from Mongo and cached.
    Unknown (or deleted) posts get zeros, which are not cached."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return {}
    out, missing = await _cached_counts(stores, ids)
    if missing:
        docs = [doc async for doc in stores.db["posts"].find({"_id": {"$in": missing}}, _PROJECTION)]
        out.update(await _cache_docs(stores, docs))
    return {post_id: out.get(post_id) or zero() for post_id in ids}


async def counts_of_docs(stores: Stores, docs: list[dict]) -> dict[str, dict[str, int]]:
    """Counters of posts whose documents the caller has just read: Redis's
    when it holds them, else the document's own (then cached), so that no
    second read of the same posts is needed."""
    by_id = {doc["_id"]: doc for doc in docs}
    if not by_id:
        return {}
    out, missing = await _cached_counts(stores, list(by_id))
    out.update(await _cache_docs(stores, [by_id[post_id] for post_id in missing]))
    return out


async def _cache_docs(stores: Stores, docs: list[dict]) -> dict[str, dict[str, int]]:
    """The counters of ``docs`` (post documents), cached when newer than Redis's."""
    counts = {doc["_id"]: _from_doc(doc) for doc in docs}
    await _cache(stores, [(doc["_id"], int(doc.get(VERSION) or 0), counts[doc["_id"]]) for doc in docs])
    return counts


async def exact_counts(stores: Stores, post_id: str) -> dict[str, int] | None:
    """The counters as Mongo has them (None: no such post); for checks and repairs."""
    doc = await stores.db["posts"].find_one({"_id": post_id}, _PROJECTION)
    return _from_doc(doc) if doc else None


async def forget(stores: Stores, post_id: str) -> None:
    """Drop a post's cached counters (the post is gone)."""
    await stores.redis.delete(cache_key(stores, post_id))
