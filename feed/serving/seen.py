"""What a user has already been served, across feed sessions: the ranked feed
never serves a post twice to the same user, nor one they viewed another way
(``feed.social.views`` keeps that history).

A sorted set per user, ``feed:seen:<user>``, post id -> unix time served in
whole milliseconds; kept to the newest ``MAX_SEEN`` entries and for ``TTL_S``
after the last one, so it stays bounded however long someone swipes. (Whole
numbers, because Redis keeps a small sorted set as a listpack, where an
insert compares its way along the entries and a fractional score is parsed
from text at every comparison: marking a page seen in a set of a hundred
cost 4-5 times as much with seconds as fractions.) Posts a user marked
``not_interested`` are hidden the same way, for good: ``feed:hidden:<user>``."""

from __future__ import annotations

import time

from core.stores import Stores
from feed.social import views

MAX_SEEN = 20_000
TTL_S = 30 * 24 * 3600


def seen_key(stores: Stores, user_id: str) -> str:
    return stores.key("feed", "seen", user_id)


def hidden_key(stores: Stores, user_id: str) -> str:
    return stores.key("feed", "hidden", user_id)


# Lua's ``unpack`` has a limit on how many values it spreads into one call;
# scripts pass at most this many ids to one command.
LUA_CHUNK = 1000


def lua_mark(key: str, now: str, ids: str) -> str:
    """Lua that marks the ids in the table ``ids`` seen at ``now`` (unix
    seconds) in the seen set ``key`` (Lua expressions), within ``MAX_SEEN``
    and ``TTL_S``: for scripts of other modules that serve posts
    (``feed.serving.openings``). One ZADD for all of them."""
    return (
        f"local marked_at = math.floor(tonumber({now}) * 1000)\n"
        f"for i = 1, #{ids}, {LUA_CHUNK} do\n"
        f"  local args = {{}}\n"
        f"  for j = i, math.min(i + {LUA_CHUNK} - 1, #{ids}) do args[#args + 1] = marked_at; args[#args + 1] = {ids}[j] end\n"
        f"  redis.call('ZADD', {key}, unpack(args))\n"
        f"end\n"
        f"redis.call('ZREMRANGEBYRANK', {key}, 0, -{MAX_SEEN + 1})\n"
        f"redis.call('EXPIRE', {key}, {TTL_S})\n"
    )


def lua_unmark(key: str, ids: str) -> str:
    """Lua that takes the ids in the table ``ids`` out of the seen set ``key``:
    posts served and then taken back before anyone saw them (``sessions.replace_tail``)."""
    return (
        f"for i = 1, #{ids}, {LUA_CHUNK} do\n"
        f"  redis.call('ZREM', {key}, unpack({ids}, i, math.min(i + {LUA_CHUNK} - 1, #{ids})))\n"
        f"end\n"
    )


def lua_already(first_key: int, ids: str, flags: str) -> str:
    """Lua that sets the table ``flags`` to one boolean per id in the table
    ``ids``: whether it is in one of the user's seen sets (``already``'s),
    whose keys (``already_keys``) are the script's KEYS from ``first_key``
    on. Three commands however many ids (ZMSCORE, ZMSCORE, SMISMEMBER), not
    three per id."""
    seen_, history, hidden = (f"KEYS[{first_key + i}]" for i in range(3))
    return (
        f"local {flags} = {{}}\n"
        f"for i = 1, #{ids}, {LUA_CHUNK} do\n"
        f"  local last = math.min(i + {LUA_CHUNK} - 1, #{ids})\n"
        f"  local a = redis.call('ZMSCORE', {seen_}, unpack({ids}, i, last))\n"
        f"  local b = redis.call('ZMSCORE', {history}, unpack({ids}, i, last))\n"
        f"  local c = redis.call('SMISMEMBER', {hidden}, unpack({ids}, i, last))\n"
        f"  for j = 1, last - i + 1 do {flags}[i + j - 1] = (a[j] or b[j] or c[j] == 1) and true or false end\n"
        f"end\n"
    )


# KEYS: seen. ARGV: now, the ids one per line (one argument, not two per id:
# packing the arguments of a command is a good part of its cost).
_MARK = f"""
local ids = {{}}
for id in string.gmatch(ARGV[2], '[^\\n]+') do ids[#ids + 1] = id end
{lua_mark("KEYS[1]", "ARGV[1]", "ids")}return 1
"""


def mark_commands(pipe, stores: Stores, user_id: str, post_ids: list[str], now: float | None = None) -> None:
    """Queue on ``pipe`` the command that marks ``post_ids`` seen (one round trip with the caller's)."""
    ids = _listable(post_ids)
    if not ids:
        return
    now = time.time() if now is None else now
    pipe.eval(_MARK, 1, seen_key(stores, user_id), repr(now), "\n".join(ids))


async def mark(stores: Stores, user_id: str, post_ids: list[str]) -> None:
    async with stores.redis.pipeline(transaction=False) as pipe:
        mark_commands(pipe, stores, user_id, post_ids)
        await pipe.execute()


def _listable(post_ids: list[str]) -> list[str]:
    # ids travel one per line: one holding a newline could not be listed (nor is any stored)
    return [pid for pid in post_ids if pid and "\n" not in pid]


# KEYS: seen, history, hidden. ARGV[1]: the ids, one per line. Returns those found in any.
# The ids travel as one argument and only the (usually few) hits come back: a
# shortlist check is hundreds of ids, and encoding and parsing one Redis reply
# entry per id per set was most of the cost of opening a feed.
_ALREADY = f"""
local ids, out = {{}}, {{}}
for id in string.gmatch(ARGV[1], '[^\\n]+') do ids[#ids + 1] = id end
{lua_already(1, "ids", "found")}for i = 1, #ids do
  if found[i] then out[#out + 1] = ids[i] end
end
return out
"""


def already_keys(stores: Stores, user_id: str) -> list[str]:
    """The keys of the user's seen sets, in the order ``lua_already`` takes them."""
    return [seen_key(stores, user_id), views.history_key(stores, user_id), hidden_key(stores, user_id)]


def already_commands(pipe, stores: Stores, user_id: str, post_ids: list[str]) -> None:
    """Queue ``already``'s check on the caller's pipeline (always one reply; ``already_found`` reads it)."""
    pipe.eval(_ALREADY, 3, *already_keys(stores, user_id), "\n".join(_listable(post_ids)))


def already_found(reply) -> set[str]:
    return {v.decode() if isinstance(v, bytes) else v for v in reply}


async def already(stores: Stores, user_id: str, post_ids: list[str]) -> set[str]:
    """The ids in ``post_ids`` the user was served before, viewed (``feed.social.views``
    history, whichever way the post was reached) or hid."""
    ids = _listable(post_ids)
    if not ids:
        return set()
    found = await stores.script(_ALREADY)(keys=already_keys(stores, user_id), args=["\n".join(ids)])
    return already_found(found)


async def hide(stores: Stores, user_id: str, post_id: str) -> None:
    async with stores.redis.pipeline(transaction=False) as pipe:
        hide_commands(pipe, stores, user_id, post_id)
        await pipe.execute()


def hide_commands(pipe, stores: Stores, user_id: str, post_id: str) -> None:
    """Queue ``hide``'s writes on the caller's pipeline."""
    key = hidden_key(stores, user_id)
    pipe.sadd(key, post_id)
    pipe.expire(key, TTL_S)
