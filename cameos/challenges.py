"""One-time liveness challenges, in Redis.

A challenge is what a person must do on camera: say ``digits`` (4 to 6
random digits) and turn their head through ``moves`` (left and right, in a
random order). It lives ``TTL_S`` seconds under
``{ns}:cameo:challenge:{user}:{id}``, so only the user it was made for can
take it; taking it deletes it atomically (two uploads racing with one
challenge: one gets it). A taken challenge leaves a marker for the rest of
its life, so a second use is told ``challenge_used`` rather than
``challenge_expired``.

Both answers are 410 Gone: the challenge existed and cannot be used any
more; the client asks for a new one. An id that was never issued reads as
expired (after three minutes nobody can tell the two apart anyway).

A user may ask for ``MAX_PER_WINDOW`` challenges per ``TTL_S`` window (429
past that)."""

from __future__ import annotations

import re
import secrets
import time

import msgspec

from cameos.errors import challenge_expired, challenge_used
from core.errors import BadRequest, RateLimited
from core.ids import new_id
from core.stores import Stores

TTL_S = 180
DIGITS_MIN, DIGITS_MAX = 4, 6
MOVES = ("left", "right")
MAX_PER_WINDOW = 20

_ID = re.compile(r"chal_[0-9a-z]{26}")
_USED = b"used"

# GET and DEL in one step, leaving the "used" marker with the rest of the TTL.
_TAKE = """
local value = redis.call('GET', KEYS[1])
if value then
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  if ttl > 0 then redis.call('SET', KEYS[2], 'used', 'PX', ttl) end
  return value
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'used' end
return false
"""


class Challenge(msgspec.Struct, kw_only=True):
    id: str
    digits: str
    moves: list[str]
    expires_at: int  # unix seconds


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Challenge).decode


def _keys(stores: Stores, user_id: str, challenge_id: str) -> tuple[str, str]:
    return stores.key("cameo", "challenge", user_id, challenge_id), stores.key("cameo", "challenge-used", user_id, challenge_id)


def random_digits() -> str:
    length = DIGITS_MIN + secrets.randbelow(DIGITS_MAX - DIGITS_MIN + 1)
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


def random_moves() -> list[str]:
    moves = list(MOVES)
    if secrets.randbelow(2):
        moves.reverse()
    return moves


def check_id(challenge_id: str) -> str:
    if not isinstance(challenge_id, str) or not _ID.fullmatch(challenge_id):
        raise BadRequest("challenge_id must be the id of a challenge (chal_…)", code="invalid_challenge_id")
    return challenge_id


async def _count(stores: Stores, user_id: str) -> tuple[int, int]:
    """Challenges made in the user's window, this one included, and the seconds until it ends."""
    key = stores.key("cameo", "challenges-made", user_id)
    async with stores.redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, TTL_S, nx=True)
        pipe.ttl(key)
        made, _, left = await pipe.execute()
    return int(made), max(1, int(left))


async def new_challenge(stores: Stores, user_id: str) -> Challenge:
    """Issue a challenge for ``user_id``; 429 after ``MAX_PER_WINDOW`` in a
    window, with ``Retry-After`` the seconds until the window ends."""
    made, left = await _count(stores, user_id)
    if made > MAX_PER_WINDOW:
        raise RateLimited(
            f"at most {MAX_PER_WINDOW} challenges in {TTL_S // 60} minutes; use one you have",
            code="too_many_challenges",
            details={"retry_after_s": left},
            headers={"Retry-After": str(left)},
        )
    challenge = Challenge(
        id=new_id("chal"), digits=random_digits(), moves=random_moves(), expires_at=int(time.time()) + TTL_S
    )
    key, _ = _keys(stores, user_id, challenge.id)
    await stores.redis.set(key, _encode(challenge), ex=TTL_S)
    return challenge


async def check_usable(stores: Stores, user_id: str, challenge_id: str) -> None:
    """Raise what ``take_challenge`` would (410 expired, unknown, used or another
    user's; 400 malformed), without taking it: an upload is refused before it is
    analysed, and a recording refused later keeps its challenge."""
    check_id(challenge_id)
    key, used = _keys(stores, user_id, challenge_id)
    async with stores.redis.pipeline(transaction=False) as pipe:
        pipe.exists(key)
        pipe.exists(used)
        live, was_used = await pipe.execute()
    if live:
        return
    if was_used:
        raise challenge_used()
    raise challenge_expired()


async def take_challenge(stores: Stores, user_id: str, challenge_id: str) -> Challenge:
    """The challenge, deleted so it cannot be used again; 410 when it is
    expired, unknown, used, or another user's (400 when the id is malformed)."""
    check_id(challenge_id)
    raw = await stores.script(_TAKE)(keys=list(_keys(stores, user_id, challenge_id)))
    if raw is None:
        raise challenge_expired()
    if raw == _USED:
        raise challenge_used()
    return _decode(raw)
