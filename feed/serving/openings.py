"""Openings: the first pages of a user's next for-you session, ranked ahead of
time and off the api's request path.

An opening is the sequence of posts a new for-you session of the user would
serve first (``feed.serving.for_you``: candidates, scores, author cap, MMR, the seen
check), made by the opening builder (``fabula feed-builder``,
``feed.live.opening_builder``) and kept in Redis:

* ``feed:opening:<user>`` (hash): ``id`` (new at every build), ``interest``
  (the session taste the picks were made for, float32 bytes), ``taken`` (how
  many entries pages have taken) and ``built`` (unix time).
* ``feed:opening:<user>:items`` (list): post ids in serving order; pages take
  from its head.

Both expire ``TTL_S`` after the last build or extension, so an opening
never holds back posts published since for long.

``take`` serves one HTTP page from it in one round trip (a Lua script): the
next ``limit`` entries the user has not seen, among the next ``2 * limit``.
Entries served, viewed or hidden since the build (by a page ranked in the
api, the swipe stream, a share link) are skipped and leave the opening;
closing their gaps can bring one author's posts too near each other, which
the caller checks (``Page.skipped``, ``Page.before``). Fewer than ``limit``
unseen among them: the opening is stale and is dropped. One holding fewer
than ``limit`` is kept and asked to be extended. The page either opens a new session with them, or continues the session the
opening started, as long as that session's taste is still the opening's and
no other session took from it since (the session's ``opening`` and
``opening_at`` fields: the opening's id and its ``taken`` after the
session's last page). It marks them seen and reads the user's
likes of them. The caller still gates each post (deleted, hidden from the
viewer, behind a block), as it gates every pick.

Builds are asked for through ``feed:openings:wanted`` (sorted set: user ->
when the build is due). A page that leaves fewer than ``REFILL_BELOW``
entries asks for one at once. A page that finds no opening (or a stale one)
asks for one due ``MISS_DELAY_S`` later, because it is about to rank and
serve posts itself, and a build made meanwhile would hold them. A build that
still finds some of its posts served by the time it is kept is made again
(``store``). An event that moves the user's
long-term taste drops the opening (``drop_commands``), because its picks were
made for the old taste. What a missing opening costs is one round trip: the
caller then ranks the page itself, as it would without openings."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from core.stores import Stores
from feed.ranking import diversity
from feed.serving import seen, sessions
from feed.social import likes

SIZE = 120  # entries per build, at most: six pages of the default twenty (a build's cost grows slower than its size)
REFILL_BELOW = 40  # a page that leaves fewer asks for the next build, which extends what is left (by about 80)
TTL_S = 300.0
MISS_DELAY_S = 0.2  # a page that found no opening ranks its own first: the build it asks for waits for that page's writes

# Why a page could not come from the opening (``Miss.reason``):
NO_OPENING = "none"  # the user has none (never built, expired, dropped)
OTHER_SESSION = "session"  # the cursor's session cannot continue it (another took from it, the taste moved), or a bad cursor
SHORT = "short"  # fewer entries left than the page needs: kept, and asked to be extended
STALE = "stale"  # fewer than a page unseen among the next two pages' entries: dropped
MISS_REASONS = (NO_OPENING, OTHER_SESSION, SHORT, STALE)


def opening_key(stores: Stores, user_id: str) -> str:
    return stores.key("feed", "opening", user_id)


def items_key(stores: Stores, user_id: str) -> str:
    return opening_key(stores, user_id) + ":items"


def wanted_key(stores: Stores) -> str:
    return stores.key("feed", "openings", "wanted")


# KEYS: opening, items, seen, history, hidden, session hash, session served,
# wanted, likes mirror. ARGV: user, limit, now, 'new' or the cursor, the new
# session's owner. (Fixed numbers are written into the source: every argument
# is one more to pack per page.) A new session's hash is the one
# ``sessions.hash_fields`` writes, plus the opening's id and ``taken``.
# Returns a miss reason (a string) when the page cannot come from the
# opening (the caller ranks it), else {ids, like scores, entries left,
# entries skipped, the session's last entries before the page when some
# were skipped (for the author cap)}.
_TAKE = """
local function want(delay) redis.call('ZADD', KEYS[8], 'NX', ARGV[3] + delay, ARGV[1]) end
local function stale() redis.call('DEL', KEYS[1], KEYS[2]) want(@MISS_DELAY@) return '@STALE@' end
local opening = redis.call('HMGET', KEYS[1], 'id', 'interest', 'taken')
if not opening[1] then want(@MISS_DELAY@) return '@NONE@' end
local limit = tonumber(ARGV[2])
if ARGV[4] == 'new' then
  if redis.call('EXISTS', KEYS[6]) == 1 then return '@SESSION@' end
else
  local s = redis.call('HMGET', KEYS[6], 'user', 'kind', 'opening', 'interest', 'muted', 'opening_at')
  if s[1] ~= ARGV[1] or s[2] ~= 'for_you' or s[3] ~= opening[1] or s[4] ~= opening[2] or (s[5] and s[5] ~= '[]') then
    return '@SESSION@'
  end
  -- the cursor is the session's end, and no other session took from the opening since this one did
  if s[6] ~= opening[3] or redis.call('LLEN', KEYS[7]) ~= tonumber(ARGV[4]) then return '@SESSION@' end
end
local ids = redis.call('LRANGE', KEYS[2], 0, 2 * limit - 1)
if #ids < limit then want(0) return '@SHORT@' end  -- running out: kept, to be extended
@ALREADY@-- the first `limit` unseen; the seen ones before them are skipped
local page, used = {}, 0
for i = 1, #ids do
  if not found[i] then
    page[#page + 1] = ids[i]
    if #page == limit then
      used = i
      break
    end
  end
end
if #page < limit then return stale() end
ids = page
local skipped, before = used - limit, {}
if skipped > 0 and ARGV[4] ~= 'new' then before = redis.call('LRANGE', KEYS[7], -@CAP_SPAN@, -1) end
redis.call('LTRIM', KEYS[2], used, -1)
local taken = redis.call('HINCRBY', KEYS[1], 'taken', used)
local left = redis.call('LLEN', KEYS[2])
if left < @REFILL_BELOW@ then want(0) end
if ARGV[4] == 'new' then
  redis.call('HSET', KEYS[6], 'user', ARGV[1], 'kind', 'for_you', 'window', limit, 'owner', ARGV[5], 'pos', 0,
             'interest', opening[2], 'muted', '[]', 'topics', '', 'opening', opening[1], 'opening_at', taken)
else
  redis.call('HSET', KEYS[6], 'opening_at', taken)
end
redis.call('RPUSH', KEYS[7], unpack(ids))
redis.call('EXPIRE', KEYS[6], @SESSION_TTL@)
redis.call('EXPIRE', KEYS[7], @SESSION_TTL@)
@MARK_SEEN@return {ids, redis.call('ZMSCORE', KEYS[9], '@LIKES_STATE@', unpack(ids)), left, skipped, before}
"""
for _name, _value in {"NONE": NO_OPENING, "SESSION": OTHER_SESSION, "SHORT": SHORT, "STALE": STALE, "MISS_DELAY": MISS_DELAY_S, "REFILL_BELOW": REFILL_BELOW, "SESSION_TTL": sessions.TTL_S,
                      "LIKES_STATE": likes.STATE, "CAP_SPAN": diversity.RULES.author_window - 1, "ALREADY": seen.lua_already(3, "ids", "found"),
                      "MARK_SEEN": seen.lua_mark("KEYS[3]", "ARGV[3]", "ids")}.items():
    _TAKE = _TAKE.replace(f"@{_name}@", str(_value))


@dataclass
class Miss:
    """What ``take`` answers when the page must be ranked: why (``MISS_REASONS``)."""

    reason: str


@dataclass
class Page:
    """A page ``take`` served."""

    session_id: str
    start: int  # the index of the page's first post in the session
    ids: list[str]
    liked: set[str]
    left: int  # entries the opening has left after it
    skipped: int = 0  # entries seen since the build, skipped before the page's last one
    before: list[str] = field(default_factory=list)  # when some were skipped: the session's entries before the page (the author cap's window)


async def take(
    stores: Stores, user_id: str, *, limit: int, session_id: str | None = None, at: int = 0
) -> Page | Miss:
    """Serve ``limit`` posts from the user's opening: a new session's first page
    (``session_id`` None) or the next page of the session the opening started
    (``at``: that session's cursor). A ``Miss`` when the page must be ranked
    (no opening, a stale one, another session took from it, the session's
    taste moved)."""
    if session_id is None:
        session_id, mode, owner = sessions.new_session_id(), "new", sessions.new_owner()
    elif sessions.valid_session_id(session_id):
        mode, owner = str(at), ""
    else:
        return Miss(OTHER_SESSION)
    if limit < 1:
        return Miss(SHORT)
    keys = [
        opening_key(stores, user_id),
        items_key(stores, user_id),
        *seen.already_keys(stores, user_id),
        sessions.hash_key(stores, session_id),
        sessions.served_key(stores, session_id),
        wanted_key(stores),
        likes.mirror_key(stores, user_id),
    ]
    reply = await stores.script(_TAKE)(keys=keys, args=[user_id, limit, repr(time.time()), mode, owner])
    if isinstance(reply, bytes):
        return Miss(reply.decode())
    raw_ids, scores, left, skipped, before = reply
    ids = [v.decode() for v in raw_ids]
    liked = await likes.liked_from(stores, user_id, ids, [None if s is None else float(s) for s in scores])
    return Page(session_id=session_id, start=at if mode != "new" else 0, ids=ids, liked=liked, left=int(left),
                skipped=int(skipped), before=[v.decode() for v in before])


# KEYS: opening, items, seen, history, hidden. ARGV: 'new' or the id of the
# opening to extend, the new opening's id or the entry the extended one must
# end with, taste, now, ttl, the ids one per line (one argument: packing a
# hundred is a good part of a call's cost). Returns {0} when kept; {1, ids...} when some ids
# were served, viewed or hidden since the build checked them (nothing kept);
# {2} when the opening to extend has moved on (used up, dropped, rebuilt).
_STORE = f"""
if ARGV[1] ~= 'new' and (redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] or redis.call('LINDEX', KEYS[2], -1) ~= ARGV[2]) then
  return {{2}}
end
local ids, out = {{}}, {{1}}
for id in string.gmatch(ARGV[6], '[^\\n]+') do ids[#ids + 1] = id end
{seen.lua_already(3, "ids", "found")}for i = 1, #ids do
  if found[i] then out[#out + 1] = ids[i] end
end
if #out > 1 then return out end
if ARGV[1] == 'new' then
  redis.call('DEL', KEYS[1], KEYS[2])
  if #ids == 0 then return {{0}} end
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'interest', ARGV[3], 'taken', 0, 'built', ARGV[4])
else
  if #ids == 0 then return {{0}} end
  redis.call('HSET', KEYS[1], 'built', ARGV[4])
end
redis.call('RPUSH', KEYS[2], unpack(ids))
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {{0}}
"""


@dataclass
class Opening:
    id: str
    interest: bytes  # the session taste its picks were made for
    items: list[str]  # what pages have not taken yet, in serving order


CURRENT_REPLIES = 2  # replies ``current_commands`` queues


def current_commands(pipe, stores: Stores, user_id: str) -> None:
    """Queue the read of the user's opening on the caller's pipeline (a
    transaction: its hash and its list as of one moment); ``current_found``
    reads the ``CURRENT_REPLIES`` replies."""
    pipe.hmget(opening_key(stores, user_id), ["id", "interest"])
    pipe.lrange(items_key(stores, user_id), 0, -1)


def current_found(replies: list) -> Opening | None:
    (opening_id, interest), items = replies
    if opening_id is None:
        return None
    return Opening(opening_id.decode(), interest or b"", [v.decode() for v in items])


async def current(stores: Stores, user_id: str) -> Opening | None:
    """The user's opening as it stands (None: there is none)."""
    async with stores.redis.pipeline(transaction=True) as pipe:
        current_commands(pipe, stores, user_id)
        return current_found(await pipe.execute())


class Moved(Exception):
    """The opening being extended was used up, dropped or rebuilt meanwhile."""


async def store(
    stores: Stores, user_id: str, post_ids: list[str], interest: bytes, *, extends: Opening | None = None, ttl: float = TTL_S
) -> set[str]:
    """Keep ``post_ids`` (in serving order) as the user's opening, made for the
    session taste ``interest`` (none: any old opening is dropped); or, with
    ``extends``, add them after that opening's entries (pages taking from it,
    the session it started included, carry on into them). Unless some of them
    were served, viewed or hidden since the build checked them: then nothing
    is kept and those are returned (the caller builds again). Raises ``Moved``
    when ``extends`` no longer ends where it did."""
    if any(not pid or "\n" in pid for pid in post_ids):
        raise ValueError("post ids must be non-empty single-line strings")
    keys = [opening_key(stores, user_id), items_key(stores, user_id), *seen.already_keys(stores, user_id)]
    if extends is not None:
        head = [extends.id, extends.items[-1] if extends.items else ""]
    else:
        head = ["new", secrets.token_hex(8)]
    reply = await stores.script(_STORE)(keys=keys, args=[*head, interest, repr(time.time()), int(ttl), "\n".join(post_ids)])
    status = int(reply[0])
    if status == 2:
        raise Moved(user_id)
    return seen.already_found(reply[1:])


def drop_commands(pipe, stores: Stores, user_id: str) -> None:
    """Queue the drop of the user's opening (their taste moved) on the caller's pipeline."""
    pipe.delete(opening_key(stores, user_id), items_key(stores, user_id))


# KEYS: wanted. ARGV: now, n. Claims the asks due by now, oldest first.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


async def wanted(stores: Stores, n: int) -> list[str]:
    """Claim up to ``n`` users whose build is due (asked for, and past any
    delay), oldest ask first; each claim goes to one builder."""
    found = await stores.script(_CLAIM)(keys=[wanted_key(stores)], args=[repr(time.time()), n])
    return [v.decode() if isinstance(v, bytes) else v for v in found]
