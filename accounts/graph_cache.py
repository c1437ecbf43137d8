"""The graph around one user, cached in Redis for every api process: whom
they follow and everyone they block or are blocked by. Opening a feed needs
both; read from Mongo they are three queries (what those cost on nx-27017:
docs/PERFORMANCE.md, "Feed"). From here they are one GET.

Friends of friends (``friends_of_friends``) are cached beside it for ten
minutes, without invalidation: they move with other people's follows.

Keys (namespace-prefixed): ``graph:around:<user>`` holds the msgspec-JSON
``Around``, for ``TTL_S``; ``graph:gen:<user>`` is a generation number that
every change of one of the user's edges moves (``invalidate``, called by
``accounts.graph_writes`` after each write and before it tells the api
processes). Misses are read through ``accounts.graph``.

A miss reads the generation, then Mongo, then stores what it read only if
the generation has not moved meanwhile (one script). So a read that raced a
follow or a block never stores the graph as it was before the change: either
the change's Mongo write came first (the read saw it), or its ``invalidate``
lands after the store and deletes it, or it lands between the read and the
store and the store does not happen."""

from __future__ import annotations

import asyncio

import msgspec

from accounts import graph
from core.stores import Stores

TTL_S = 3600
GEN_TTL_S = 7 * 24 * 3600  # outlives every cached entry by far
FOF_TTL_S = 600


class Around(msgspec.Struct, kw_only=True):
    following: list[str]  # most recent first
    blocked: list[str]  # blocks either way


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Around).decode
_decode_ids = msgspec.json.Decoder(list[str]).decode

# KEYS: entry, gen. ARGV: the generation read before Mongo, the entry, ttl.
_STORE = """
local gen = redis.call('GET', KEYS[2]) or '0'
if gen ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def _entry_key(stores: Stores, user_id: str) -> str:
    return stores.key("graph", "around", user_id)


def _gen_key(stores: Stores, user_id: str) -> str:
    return stores.key("graph", "gen", user_id)


async def around(stores: Stores, user_id: str) -> Around:
    """The graph around ``user_id`` (from the cache, else from Mongo, then cached)."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        pipe.get(_entry_key(stores, user_id))
        pipe.get(_gen_key(stores, user_id))
        raw, gen = await pipe.execute()
    if raw:
        try:
            return _decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass  # written by another version: read afresh
    gen = gen.decode() if isinstance(gen, bytes) else (gen or "0")
    following, blocked = await asyncio.gather(graph.following_ids(stores, user_id), graph.blocks_of(stores, user_id))
    found = Around(following=following, blocked=sorted(blocked))
    await stores.script(_STORE)(
        keys=[_entry_key(stores, user_id), _gen_key(stores, user_id)], args=[gen, _encode(found), TTL_S]
    )
    return found


async def friends_of_friends(stores: Stores, user_id: str, following: list[str], *, fanout: int, limit: int) -> set[str]:
    """Users followed by the first ``fanout`` of ``following`` (at most
    ``limit`` edges), minus the user and whom they follow. A weak signal that
    any of those people's follows move, so it is cached ``FOF_TTL_S`` and
    never invalidated."""
    key = stores.key("graph", "fof", user_id)
    raw = await stores.redis.get(key)
    if raw is not None:
        try:
            return set(_decode_ids(raw))
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass
    found = await graph.followees_of(stores, following[:fanout], limit=limit) - set(following) - {user_id}
    await stores.redis.set(key, _encode(sorted(found)), ex=FOF_TTL_S)
    return found


async def invalidate(stores: Stores, user_ids: list[str]) -> None:
    """An edge of these users changed (in Mongo already): drop what is cached."""
    async with stores.redis.pipeline(transaction=True) as pipe:
        for user_id in user_ids:
            pipe.incr(_gen_key(stores, user_id))
            pipe.expire(_gen_key(stores, user_id), GEN_TTL_S)
            pipe.delete(_entry_key(stores, user_id))
        await pipe.execute()
