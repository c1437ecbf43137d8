"""Feed sessions in Redis: what one swipe session has served, in order, and
the in-session state that shapes what comes next.

One session is two keys, hash-tagged so they live in one cluster slot:

* ``feed:session:{<id>}`` (hash): ``user``, ``kind``, ``window``, ``pos`` (how
  many items the client has reached: 1 + the index of the furthest item it
  sent an event for), ``owner`` (the connection currently driving it),
  ``interest`` (the session's interest vector, float32 bytes), ``muted`` (JSON
  list of authors marked not interested) and ``topics`` (float32 bytes: the
  embeddings of posts marked not interested).
* ``feed:session:{<id>}:served`` (list): every post id served, in order. The
  cursor a client holds is an index into this list, so resuming means "send
  ``served[cursor:]``, then carry on": no repeats, no gaps.

Both expire ``TTL_S`` after the last write. Writes are guarded by ``owner``: a
session resumed on another connection (or replica) takes it over, and the
previous connection's next write fails with ``SessionMoved``; the take-over is
also announced on ``MOVED`` (a ``core.broadcast``), so that the previous
connection, on whichever api process, lets the session go at once (its live
counts stop, its slot is free) rather than at its next event. A session holds
at most ``MAX_SERVED`` items; then it is full and the client opens a new one."""

from __future__ import annotations

import json
import re
import secrets

import msgspec
from ulid import ULID

from core.broadcast import Broadcast
from core.stores import Stores
from feed.serving import seen

TTL_S = 3600
MAX_SERVED = 5000
KINDS = ("for_you", "following")
_ID = re.compile(r"fs_[0-9a-hjkmnp-tv-z]{26}")


class SessionMoved(Exception):
    """Another connection took the session over."""


class SessionFull(Exception):
    """The session served MAX_SERVED items."""


class Moved(msgspec.Struct, kw_only=True):
    """A session was taken over: ``owner`` drives it now."""

    session_id: str
    owner: str


MOVED: Broadcast[Moved] = Broadcast("feed:sessions:moved", Moved)


class SessionState(msgspec.Struct, kw_only=True):
    id: str
    user_id: str
    kind: str
    window: int
    owner: str
    pos: int = 0
    interest: bytes = b""
    muted: list[str] = []
    topics: bytes = b""
    served: list[str] = []
    stored: bool = True  # False: made by ``new``, written with its first append or save


def new_session_id() -> str:
    return "fs_" + str(ULID()).lower()


def valid_session_id(value: str) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def new_owner() -> str:
    return secrets.token_hex(8)


def hash_key(stores: Stores, session_id: str) -> str:
    return stores.key("feed", "session", "{" + session_id + "}")


def served_key(stores: Stores, session_id: str) -> str:
    return hash_key(stores, session_id) + ":served"


# KEYS: hash, served. ARGV: owner, expected length, ttl, max served, the ids one
# per line, then (a session not written yet) the field/value pairs it starts with.
_APPEND = """
if #ARGV > 5 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
  redis.call('HSET', KEYS[1], unpack(ARGV, 6))
elseif redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return -1 end
local n = redis.call('LLEN', KEYS[2])
if n ~= tonumber(ARGV[2]) then return -2 end
local ids = {}
for id in string.gmatch(ARGV[5], '[^\\n]+') do ids[#ids + 1] = id end
if n + #ids > tonumber(ARGV[4]) then return -3 end
for i = 1, #ids do redis.call('RPUSH', KEYS[2], ids[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return n + #ids
"""

# KEYS: hash, served. ARGV: owner, ttl, field, value, field, value...
_SAVE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return -1 end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""


# KEYS: hash, served, the user's seen set. ARGV: owner, expected length, where
# the new tail starts, ttl, the new tail one per line, the ids it takes back.
_REPLACE = f"""
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return -1 end
if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[2]) then return -2 end
local at = tonumber(ARGV[3])
if at == 0 then redis.call('DEL', KEYS[2]) else redis.call('LTRIM', KEYS[2], 0, at - 1) end
for id in string.gmatch(ARGV[5], '[^\\n]+') do redis.call('RPUSH', KEYS[2], id) end
local back = {{}}
for id in string.gmatch(ARGV[6], '[^\\n]+') do back[#back + 1] = id end
{seen.lua_unmark("KEYS[3]", "back")}redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return redis.call('LLEN', KEYS[2])
"""


def new(stores: Stores, *, user_id: str, kind: str, window: int, interest: bytes = b"", owner: str | None = None) -> SessionState:
    """A session not written yet: its first ``append`` (or ``save``) writes it
    in the same round trip (``create`` writes it at once)."""
    return SessionState(
        id=new_session_id(), user_id=user_id, kind=kind, window=window, owner=owner or new_owner(), interest=interest,
        stored=False,
    )


def hash_fields(state: SessionState) -> dict:
    """The hash of a session as ``state`` stands now."""
    return {"user": state.user_id, "kind": state.kind, "window": state.window, "owner": state.owner, "pos": state.pos,
            "interest": state.interest, "muted": json.dumps(state.muted), "topics": state.topics}


def _create_commands(pipe, stores: Stores, state: SessionState) -> None:
    key = hash_key(stores, state.id)
    pipe.hset(key, mapping=hash_fields(state))
    pipe.expire(key, TTL_S)


async def create(
    stores: Stores, *, user_id: str, kind: str, window: int, interest: bytes = b"", owner: str | None = None
) -> SessionState:
    state = new(stores, user_id=user_id, kind=kind, window=window, interest=interest, owner=owner)
    async with stores.redis.pipeline(transaction=True) as pipe:
        _create_commands(pipe, stores, state)
        await pipe.execute()
    state.stored = True
    return state


async def load(stores: Stores, session_id: str, *, served: bool = True) -> SessionState | None:
    if not valid_session_id(session_id):
        return None
    async with stores.redis.pipeline(transaction=False) as pipe:
        load_commands(pipe, stores, session_id, served=served)
        found = await pipe.execute()
    return loaded(session_id, found)


def load_commands(pipe, stores: Stores, session_id: str, *, served: bool = True) -> int:
    """Queue ``load``'s reads on the caller's pipeline (``session_id`` valid);
    returns how many replies they take, which ``loaded`` reads."""
    pipe.hgetall(hash_key(stores, session_id))
    if served:
        pipe.lrange(served_key(stores, session_id), 0, -1)
    return 2 if served else 1


def loaded(session_id: str, replies: list) -> SessionState | None:
    """The session ``load_commands`` read, or None when there is none."""
    fields = replies[0]
    if not fields or b"user" not in fields:
        return None
    return SessionState(
        id=session_id,
        user_id=fields[b"user"].decode(),
        kind=fields[b"kind"].decode(),
        window=int(fields[b"window"]),
        owner=fields.get(b"owner", b"").decode(),
        pos=int(fields.get(b"pos", b"0")),
        interest=fields.get(b"interest", b""),
        muted=json.loads(fields.get(b"muted", b"[]")),
        topics=fields.get(b"topics", b""),
        served=[v.decode() for v in replies[1]] if len(replies) > 1 else [],
    )


async def take_over(stores: Stores, state: SessionState, *, window: int | None = None) -> SessionState:
    """Make a fresh owner the session's driver (the previous one's writes fail from now on)."""
    state.owner = new_owner()
    if window is not None:
        state.window = window
    key = hash_key(stores, state.id)
    async with stores.redis.pipeline(transaction=False) as pipe:
        pipe.hset(key, mapping={"owner": state.owner, "window": state.window})
        pipe.expire(key, TTL_S)
        pipe.expire(served_key(stores, state.id), TTL_S)
        await pipe.execute()
    await MOVED.announce(stores, Moved(session_id=state.id, owner=state.owner))
    return state


async def append(stores: Stores, state: SessionState, post_ids: list[str], *, save_fields: tuple[str, ...] = ()) -> int:
    """Add served items (and mark them seen for the user); returns the new length.
    ``save_fields`` of ``state`` are written in the same round trip, first.

    Seen marks go first: if the append then fails, those posts are only
    skipped later, never shown twice."""
    if not post_ids:
        if save_fields or not state.stored:
            await save(stores, state, *save_fields)
        return len(state.served)
    async with stores.redis.pipeline(transaction=False) as pipe:
        count = append_commands(pipe, stores, state, post_ids, save_fields=save_fields)
        replies = await pipe.execute()
    return appended(state, post_ids, replies[:count])


def append_commands(pipe, stores: Stores, state: SessionState, post_ids: list[str], *, save_fields: tuple[str, ...] = ()) -> int:
    """Queue ``append``'s writes (``post_ids`` not empty) on the caller's
    pipeline; returns how many replies they take, which ``appended`` reads.
    A session not written yet is written by the append itself, with its
    fields as they stand (``save_fields`` are among them)."""
    _one_per_line(post_ids)
    keys = (hash_key(stores, state.id), served_key(stores, state.id))
    create: list = []
    if not state.stored:
        for name, value in hash_fields(state).items():
            create += [name, value]
    seen.mark_commands(pipe, stores, state.user_id, post_ids)  # one command
    count = 2
    if save_fields and state.stored:
        pipe.eval(_SAVE, 2, *keys, state.owner, TTL_S, *_field_values(state, save_fields))
        count += 1
    pipe.eval(_APPEND, 2, *keys, state.owner, len(state.served), TTL_S, MAX_SERVED, "\n".join(post_ids), *create)
    return count


def _one_per_line(post_ids: list[str]) -> None:
    """The scripts take ids one per line, in one argument."""
    if any(not pid or "\n" in pid for pid in post_ids):
        raise ValueError("post ids travel one per line")


def appended(state: SessionState, post_ids: list[str], replies: list) -> int:
    """Read ``append_commands``' replies: the session's new length (raises
    ``SessionFull`` or ``SessionMoved`` when nothing was appended)."""
    length = int(replies[-1])
    if length == -3:
        raise SessionFull(state.id)
    if length < 0 or (len(replies) == 3 and int(replies[1]) < 0):
        raise SessionMoved(state.id)
    state.stored = True
    state.served.extend(post_ids)
    return length


async def replace_tail(stores: Stores, state: SessionState, at: int, post_ids: list[str]) -> None:
    """Make ``post_ids`` the served items from ``at`` on, in place of those
    there now, which go back to unseen for the user unless kept: items served
    and taken back before the client saw them. Raises ``SessionMoved`` when
    the session changed hands or length since ``state`` was read."""
    _one_per_line(post_ids)
    if not 0 <= at <= len(state.served):
        raise ValueError("the tail starts within the served list")
    kept = set(post_ids)
    back = [pid for pid in state.served[at:] if pid not in kept]
    keys = [hash_key(stores, state.id), served_key(stores, state.id), seen.seen_key(stores, state.user_id)]
    args = [state.owner, len(state.served), at, TTL_S, "\n".join(post_ids), "\n".join(back)]
    if int(await stores.script(_REPLACE)(keys=keys, args=args)) < 0:
        raise SessionMoved(state.id)
    state.served[at:] = post_ids


def _field_values(state: SessionState, fields: tuple[str, ...]) -> list:
    values: list = []
    for name in fields:
        value = getattr(state, name)
        if name == "muted":
            value = json.dumps(value)
        values += [name, value]
    return values


async def save(stores: Stores, state: SessionState, *fields: str) -> None:
    """Write the named fields of ``state`` (pos, interest, muted, topics, window)."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        count = save_commands(pipe, stores, state, fields)
        replies = await pipe.execute()
    saved(state, replies[:count])


def save_commands(pipe, stores: Stores, state: SessionState, fields: tuple[str, ...] | list[str]) -> int:
    """Queue ``save``'s writes on the caller's pipeline (a session not written
    yet is written whole first); returns how many replies they take, which
    ``saved`` reads."""
    count = 0
    if not state.stored:
        _create_commands(pipe, stores, state)
        count = 2
    pipe.eval(_SAVE, 2, hash_key(stores, state.id), served_key(stores, state.id), state.owner, TTL_S, *_field_values(state, fields))
    return count + 1


def saved(state: SessionState, replies: list) -> None:
    """Read ``save_commands``' replies (raises ``SessionMoved`` when another
    connection drives the session now)."""
    if int(replies[-1]) < 0:
        raise SessionMoved(state.id)
    state.stored = True


async def delete(stores: Stores, session_id: str) -> None:
    await stores.redis.delete(hash_key(stores, session_id), served_key(stores, session_id))
