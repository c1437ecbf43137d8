"""Likes. The ``likes`` collection: ``{_id: "<post_id>:<user_id>", post_id,
user_id, created_at}``.

The compound ``_id`` is the uniqueness of (post, user): a second like of the
same post fails the insert with a duplicate key and changes nothing, and only
an insert that succeeded (or a delete that removed a document) moves the
``likes`` counter, so the counter equals the number of like documents however
the likes and unlikes interleave.

A like notifies the post's author (``feed.social.notifications``); an
unlike takes that notification back, and a like given again within
``RENOTIFY_AFTER_S`` of an unlike is stored quietly (read, not pushed): the
author's inbox says who likes the post, and a like-unlike loop is not a
stream of alerts.

These functions do not check who may see the post (the follow/block graph
belongs to ``accounts``): callers check first (feed.social.visibility.visible_post).

The Redis mirror
----------------
``liked_by`` runs for every item the feed serves, so it reads a per-user
mirror in Redis instead of Mongo. Mongo stays the source of truth: the mirror
answers only what it knows for sure and sends the rest to Mongo.

One sorted set per user, ``mirror_key`` = ``{ns}:likes:by:{user_id}``, holds
everything, so it lives, expires, is evicted and is flushed as one unit (a
marker in a key of its own could outlive the set and vouch for nothing):

* ``<post_id>`` with a score >= 0: liked, at that time (unix seconds);
* ``<post_id>`` with a score < 0: in doubt, ask Mongo. The score is
  ``-(2 * running + dirty)``: how many likes/unlikes of that post by the user
  are between their Redis steps, and whether they overlapped (see below);
* ``!state``: ``FULL`` (-1), every like of the user is here, so a missing post
  is not liked; or ``PARTIAL`` (-2), the user has more than ``MAX_MIRROR``
  likes and a missing post is asked of Mongo. Without ``!state`` (new
  deployment, expired, flushed, evicted) nothing in the set is trusted;
* ``!gen``: a generation that every like/unlike of the user moves (down by
  one) at each of its two Redis steps; a set created afresh starts it at a
  random negative value, so a generation read before the set vanished does not
  come back.

Reads: one ``ZMSCORE key !state <ids…>``. No ``!state``: answer from Mongo
and fill the mirror. Otherwise a score >= 0 is a like, and a post in doubt
(or, when partial, missing) is asked of Mongo in one ``$in``.

A like/unlike of post X does ``_start`` (X in doubt: running + 1, dirty if
another was running; ``!gen`` moved), its Mongo write, then ``_finish``
(running - 1; ``!gen`` moved). When that leaves X with nobody running and not
dirty, X gets the state the operation's own Mongo write found: liked (also
after a duplicate like), or removed (also after an unlike of nothing, or a
like taken back because the post went away, so a failed like never leaves a
member behind). Otherwise X stays in doubt until an operation that overlaps
no other settles it. Why: the Redis steps of two concurrent operations on X
may land in the opposite order to their Mongo writes; an operation that
overlapped no other did the last Mongo write on X, so its outcome is the
truth, and overlapping ones leave X in doubt. An operation that fails in an
unknown way marks X dirty; one that dies between its steps leaves X in doubt
(costly only as one more ``$in`` entry, never a wrong answer).

The fill (on a read that found no ``!state``; one filler per user at a time,
by a 30 s lease key — a read that misses the lease just asks Mongo): (a)
``_BEGIN`` reads ``!gen`` (creating it when missing); (b) one Mongo query reads
the user's likes through the ``user_newest`` index (``user_id``, sorted by
``_id`` descending: post ids are ULIDs, so the likes of the newest posts come
first), at most ``MAX_MIRROR + 1``; (c) ``_COMMIT``, one script: only if
``!gen`` still is what (a) read, replace the set by that snapshot plus
``!state`` (``PARTIAL`` when more than ``MAX_MIRROR`` came back), keeping the
posts in doubt as they are. If a like/unlike of the user took a Redis step in
between, nothing is written and a later read tries again. So an operation
whose Mongo write came after the snapshot and whose Redis step came before the
commit (an unlike landing between the fill's read and write) cannot be
undone: the commit does not happen. An operation that finished before (a) did
its Mongo write before (b), and one running across the whole fill keeps its
post in doubt through the commit and settles it at its finish.

Every write refreshes a 30-day TTL on the set, so an idle user's mirror goes
away by itself; once a mirror holds over 10 % more than ``MAX_MIRROR`` likes,
``_finish`` drops the oldest down to ``MAX_MIRROR`` and turns a ``FULL``
mirror ``PARTIAL``. A Redis flush while a like
is between its steps forgets that it is running; that operation then marks
its post dirty at its finish.

``delete_for_post`` removes a deleted post's likes from Mongo only; likers'
mirrors may keep its id until they expire: a deleted post is never rendered
and post ids are never reused, so no answer that matters is wrong. Other
writers of the ``likes`` collection must go through ``_start``/``_finish`` or
live with the same caveat."""

from __future__ import annotations

import secrets

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from core.clock import as_utc, utcnow
from core.errors import NotFound
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores
from feed.social import counters, notifications
from feed.social.posts import Post, get_post

MAX_MIRROR = 5000  # likes one mirror holds; a user with more gets a PARTIAL one
RENOTIFY_AFTER_S = 3600  # a like given again sooner than this after an unlike is stored quietly
MIRROR_TTL_S = 30 * 24 * 3600
FILL_LEASE_S = 30

FULL, PARTIAL = -1.0, -2.0  # scores of "!state"
STATE = "!state"  # reserved members ("!state", "!gen"): post ids never start with "!"
UNKNOWN = "?"  # _finish's outcome when the Mongo write failed in an unknown way

# KEYS[1]: the mirror. Moves !gen down by one, creating it at ``seed`` (a
# fresh random negative) when missing.
_BUMP = """
local function bump(seed)
  if redis.call('ZSCORE', KEYS[1], '!gen') then
    redis.call('ZINCRBY', KEYS[1], -1, '!gen')
  else
    redis.call('ZADD', KEYS[1], seed, '!gen')
  end
end
"""

# ARGV: seed, ttl, post_id. Marks the post running (in doubt); returns its
# score before when that was a like, else ''.
_START = _BUMP + """
bump(ARGV[1])
local s = redis.call('ZSCORE', KEYS[1], ARGV[3])
local prev, running, dirty = '', 0, 0
if s and tonumber(s) < 0 then
  running = math.floor(-tonumber(s) / 2)
  if running > 0 then dirty = 1 end
elseif s then
  prev = s
end
redis.call('ZADD', KEYS[1], -(2 * (running + 1) + dirty), ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return prev
"""

# ARGV: seed, ttl, max likes, post_id, outcome: a score (liked), '' (not
# liked) or '?' (unknown).
_FINISH = _BUMP + """
bump(ARGV[1])
local s = redis.call('ZSCORE', KEYS[1], ARGV[4])
local running, dirty = 0, 1  -- the marks were lost (flush): take it as dirty
if s and tonumber(s) < 0 then
  running = math.floor(-tonumber(s) / 2) - 1
  dirty = -tonumber(s) % 2
  if running < 0 then running, dirty = 0, 1 end
end
if ARGV[5] == '?' then dirty = 1 end
if running == 0 and dirty == 0 then
  if ARGV[5] == '' then
    redis.call('ZREM', KEYS[1], ARGV[4])
  else
    redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
  end
else
  redis.call('ZADD', KEYS[1], -(2 * running + dirty), ARGV[4])
end
local max = tonumber(ARGV[3])
local extra = redis.call('ZCOUNT', KEYS[1], 0, '+inf') - max
if extra > math.floor(max / 10) then
  local old = redis.call('ZRANGEBYSCORE', KEYS[1], 0, '+inf', 'LIMIT', 0, extra)
  redis.call('ZREM', KEYS[1], unpack(old))
  if redis.call('ZSCORE', KEYS[1], '!state') then
    redis.call('ZADD', KEYS[1], -2, '!state')
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# ARGV: seed, ttl. Returns the generation, creating it when missing.
_BEGIN = """
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], '!gen')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return redis.call('ZSCORE', KEYS[1], '!gen')
"""

# ARGV: generation from _BEGIN, state score, ttl, then score, post_id, ...
# Replaces the set by the snapshot if the generation did not move; the posts
# in doubt stay as they are.
_COMMIT = """
local gen = redis.call('ZSCORE', KEYS[1], '!gen')
if not gen or tonumber(gen) ~= tonumber(ARGV[1]) then
  return 0
end
local doubt = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(0', 'WITHSCORES')
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[1], gen, '!gen', ARGV[2], '!state')
local n = #ARGV
local i = 4
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
for k = 1, #doubt, 2 do
  if string.sub(doubt[k], 1, 1) ~= '!' then
    redis.call('ZADD', KEYS[1], doubt[k + 1], doubt[k])
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def _id(post_id: str, user_id: str) -> str:
    return f"{post_id}:{user_id}"


def _collection(stores: Stores):
    return stores.db["likes"]


def mirror_key(stores: Stores, user_id: str) -> str:
    """The user's mirror: a sorted set (see the module doc)."""
    return stores.key("likes", "by", user_id)


def _seed() -> str:
    """The generation of a set created afresh: a random negative integer,
    exact as a double, far from anything a live set counts down through."""
    return str(-((1 << 40) + secrets.randbelow(1 << 50)))


def _score(created_at) -> float:
    return round(as_utc(created_at).timestamp(), 3) if created_at is not None else 0.0


async def ensure_indexes(stores: Stores) -> None:
    await ensure_newest_by_index(stores, "likes", "post_id", "post_newest")
    await ensure_newest_by_index(stores, "likes", "user_id", "user_newest")


async def _start(stores: Stores, user_id: str, post_id: str) -> float | None:
    """Before a like/unlike's Mongo write; returns the post's like time when
    the mirror had it as liked."""
    script = stores.script(_START)
    prev = await script(keys=[mirror_key(stores, user_id)], args=[_seed(), MIRROR_TTL_S, post_id])
    return float(prev) if prev else None


async def _finish(stores: Stores, user_id: str, post_id: str, outcome: float | str | None) -> None:
    """After the Mongo write: ``outcome`` is the like time (liked), None (not
    liked) or ``UNKNOWN``."""
    script = stores.script(_FINISH)
    await script(
        keys=[mirror_key(stores, user_id)],
        args=[_seed(), MIRROR_TTL_S, MAX_MIRROR, post_id, "" if outcome is None else outcome],
    )


async def like(stores: Stores, user_id: str, post_id: str, *, post: Post | None = None) -> bool:
    """Like a post; True if newly liked, False if it was already liked.
    Bumps ``likes`` and notifies the author (not for one's own post).
    ``post``: the post as the caller just read it (saves a read)."""
    post = post if post is not None and post.id == post_id else await get_post(stores, post_id)
    if post is None:
        raise NotFound(f"no post {post_id!r}", code="post_not_found")
    prev = await _start(stores, user_id, post_id)
    created_at = utcnow()
    outcome: float | str | None = UNKNOWN
    try:
        try:
            await _collection(stores).insert_one(
                {"_id": _id(post_id, user_id), "post_id": post_id, "user_id": user_id, "created_at": created_at}
            )
        except DuplicateKeyError:
            outcome = prev if prev is not None else _score(created_at)  # liked already
            return False
        if not await counters.bump(stores, post_id, likes=1):
            # the post was deleted meanwhile: take the like back with it
            await _collection(stores).delete_one({"_id": _id(post_id, user_id)})
            outcome = None
            raise NotFound(f"no post {post_id!r}", code="post_not_found")
        outcome = _score(created_at)
    finally:
        await _finish(stores, user_id, post_id, outcome)
    # given back after an unlike (one's own like notifies nobody: no need to ask)
    again = post.author_id != user_id and bool(await stores.redis.exists(_retracted_key(stores, user_id, post_id)))
    await notifications.notify(stores, recipient_id=post.author_id, actor_id=user_id, kind="like", post_id=post_id, quiet=again)
    return True


def _retracted_key(stores: Stores, user_id: str, post_id: str) -> str:
    return stores.key("likes", "retracted", user_id, post_id)


async def unlike(stores: Stores, user_id: str, post_id: str) -> bool:
    """Take a like back; True if there was one."""
    await _start(stores, user_id, post_id)
    outcome: str | None = UNKNOWN
    try:
        result = await _collection(stores).delete_one({"_id": _id(post_id, user_id)})
        outcome = None  # not liked now, whether or not it was
        if result.deleted_count == 1:
            # the counter moves with the document, before any Redis step that
            # may fail (Redis gone between the delete and the mirror's finish
            # must not leave the counter one too high)
            await counters.bump(stores, post_id, likes=-1)
    finally:
        await _finish(stores, user_id, post_id, outcome)
    if result.deleted_count != 1:
        return False
    await notifications.retract_like(stores, actor_id=user_id, post_id=post_id)
    # liking it again soon does not notify again: a like and unlike in a loop is not a stream of notifications
    await stores.redis.set(_retracted_key(stores, user_id, post_id), b"1", ex=RENOTIFY_AFTER_S)
    return True


async def _from_mongo(stores: Stores, user_id: str, post_ids: list[str]) -> set[str]:
    ids = [_id(pid, user_id) for pid in post_ids]
    if not ids:
        return set()
    return {doc["post_id"] async for doc in _collection(stores).find({"_id": {"$in": ids}}, {"post_id": 1})}


async def _read_user_likes(stores: Stores, user_id: str, limit: int) -> list[dict]:
    """The user's likes, those of the newest posts first (``user_newest``)."""
    cursor = _collection(stores).find({"user_id": user_id}, {"post_id": 1, "created_at": 1})
    return [doc async for doc in cursor.sort("_id", DESCENDING).limit(limit)]


async def _fill(stores: Stores, user_id: str, ids: list[str]) -> set[str]:
    """Answer from Mongo, and fill the mirror unless another read is at it."""
    key = mirror_key(stores, user_id)
    lease = stores.key("likes", "by", user_id, "filling")
    async with stores.redis.pipeline(transaction=False) as pipe:
        pipe.set(lease, b"1", nx=True, ex=FILL_LEASE_S)
        await stores.script(_BEGIN)(keys=[key], args=[_seed(), MIRROR_TTL_S], client=pipe)
        leased, gen = await pipe.execute()
    if not leased:
        return await _from_mongo(stores, user_id, ids)
    try:
        limit = MAX_MIRROR
        docs = await _read_user_likes(stores, user_id, limit + 1)
        complete = len(docs) <= limit
        snapshot = {doc["post_id"]: _score(doc.get("created_at")) for doc in docs[:limit]}
        args: list = [gen, FULL if complete else PARTIAL, MIRROR_TTL_S]
        for post_id, score in snapshot.items():
            args += [score, post_id]
        await stores.script(_COMMIT)(keys=[key], args=args)
    finally:
        await stores.redis.delete(lease)
    liked = {pid for pid in ids if pid in snapshot}
    if not complete:
        liked |= await _from_mongo(stores, user_id, [pid for pid in ids if pid not in snapshot])
    return liked


async def liked_by(stores: Stores, user_id: str, post_ids: list[str]) -> set[str]:
    """The posts among ``post_ids`` that ``user_id`` likes: from the Redis
    mirror where it is sure, from Mongo for the rest (see the module doc)."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return set()
    return await liked_from(stores, user_id, ids, await stores.redis.zmscore(mirror_key(stores, user_id), [STATE, *ids]))


def liked_commands(pipe, stores: Stores, user_id: str, post_ids: list[str]) -> None:
    """Queue ``liked_by``'s mirror read (``post_ids`` not empty, no repeats) on
    the caller's pipeline; ``liked_from`` reads its reply."""
    pipe.zmscore(mirror_key(stores, user_id), [STATE, *post_ids])


async def liked_from(stores: Stores, user_id: str, post_ids: list[str], scores: list) -> set[str]:
    """``liked_by``'s answer from the mirror's scores of ``[STATE, *post_ids]``
    (Mongo is read for what the mirror is not sure of)."""
    state = scores[0]
    if state is None:
        return await _fill(stores, user_id, post_ids)
    liked: set[str] = set()
    ask: list[str] = []
    for post_id, score in zip(post_ids, scores[1:]):
        if post_id.startswith("!") or (score is None and state != FULL) or (score is not None and score < 0):
            ask.append(post_id)
        elif score is not None:
            liked.add(post_id)
    if ask:
        liked |= await _from_mongo(stores, user_id, ask)
    return liked


async def count_likes(stores: Stores, post_id: str) -> int:
    """The like documents of a post (what the ``likes`` counter must equal)."""
    return await _collection(stores).count_documents({"post_id": post_id})


async def delete_for_post(stores: Stores, post_id: str) -> None:
    """Delete a (deleted) post's likes in Mongo. Likers' mirrors may keep the
    post id: the post no longer exists and is never rendered (module doc)."""
    await _collection(stores).delete_many({"post_id": post_id})
