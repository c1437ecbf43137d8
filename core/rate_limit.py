"""Rate limits: token buckets in Redis, shared by every api process.

A ``Rule`` says how many hits a key may make in a burst (``capacity``) and
how fast the bucket refills (``capacity`` tokens every ``period_s``). A hit
takes one token (or ``cost``); an empty bucket refuses it and says when to
come back. A rule with a lockout also locks a key out when its bucket runs
dry: ``lockout_s`` the first time, twice as long each time it runs dry again
(up to ``lockout_max_s``), forgotten once the key has been quiet for a full
refill plus ``lockout_max_s``. While locked, every hit is refused.

Use::

    from core import rate_limit

    rule = rate_limit.Rule.parse("comments", "20/1m")   # or a FABULA_RATE_* setting
    verdict = await rate_limit.hit(stores, rule, user.id)
    if not verdict.allowed:
        ...  # verdict.retry_after_s: seconds until a hit may succeed

    await rate_limit.enforce(stores, rule, user.id)      # the same, raising
    # core.errors.RateLimited: 429, code "rate_limited", a Retry-After header

    await rate_limit.reset(stores, rule, user.id)        # forget the key (e.g. after a good login)

    verdict, refused_by = await rate_limit.hit_all(stores, [(per_conn, conn_id), (per_user, user.id)])
    # several buckets in one call: allowed only when each has a token

A rule's text is ``N/PERIOD``: ``N`` hits per period, the period in seconds
or with a unit (``30s``, ``10m``, ``1h``, ``1d``), e.g. ``"10/10m"``; ``off``
(or ``0``) turns the rule off, so that every hit is allowed without a call
to Redis. The limits of the service are the ``FABULA_RATE_*`` settings
(``core.settings``); ``rules(settings)`` reads them.

One Lua script per hit: it reads the bucket, refills it for the time passed
(by the Redis server's clock, the same for every process), takes the tokens
or refuses, and writes the bucket back with an expiry, so that idle keys go
away by themselves. Keys are ``{ns}:rl:{rule name}:{key}``."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import msgspec

from core.errors import RateLimited

if TYPE_CHECKING:
    from core.settings import Settings
    from core.stores import Stores

_SCRIPT = """
local capacity = tonumber(ARGV[1])
local period_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local lock_ms = tonumber(ARGV[4])
local lock_max_ms = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'strikes', 'locked')
local rate = capacity / period_ms
local tokens = tonumber(s[1]) or capacity
local ts = tonumber(s[2]) or now
local strikes = tonumber(s[3]) or 0
local locked = tonumber(s[4]) or 0
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
end
local allowed = 0
local retry = 0
if locked > now then
  retry = locked - now
elseif tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate)
  if lock_ms > 0 then
    strikes = strikes + 1
    local lock = math.min(lock_ms * 2 ^ (strikes - 1), lock_max_ms)
    locked = now + lock
    retry = math.max(retry, lock)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now, 'strikes', strikes, 'locked', locked)
local refill = math.ceil((capacity - tokens) / rate)
redis.call('PEXPIRE', KEYS[1], math.max(refill, locked - now, 1) + lock_max_ms + 1000)
return {allowed, retry, math.floor(tokens)}
"""

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RULE_RE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A token bucket: ``capacity`` hits at once, refilled at ``capacity`` per ``period_s``."""

    name: str  # part of the Redis key: one bucket per (rule, key)
    capacity: int  # 0: the rule is off
    period_s: float = 60.0
    lockout_s: float = 0.0  # a dry bucket locks its key out this long (doubling each time); 0: never
    lockout_max_s: float = 0.0  # the longest lockout

    @property
    def off(self) -> bool:
        return self.capacity <= 0

    @classmethod
    def parse(cls, name: str, text: str, *, lockout_s: float = 0.0, lockout_max_s: float = 0.0) -> Rule:
        """A rule from its text (``"10/10m"``, ``"5/60"``, ``"off"``); ValueError when malformed."""
        if text.strip().lower() in ("off", "0", ""):
            return cls(name=name, capacity=0)
        found = _RULE_RE.fullmatch(text)
        if found is None:
            raise ValueError(f"rate limit {name!r}: {text!r} is not N/PERIOD (e.g. 10/10m) or off")
        capacity, period = int(found.group(1)), float(found.group(2)) * _UNITS[found.group(3)]
        if period <= 0:
            raise ValueError(f"rate limit {name!r}: the period must be positive")
        if lockout_s < 0 or lockout_max_s < 0:
            raise ValueError(f"rate limit {name!r}: lockouts cannot be negative")
        return cls(name=name, capacity=capacity, period_s=period, lockout_s=lockout_s, lockout_max_s=max(lockout_max_s, lockout_s))


class Verdict(msgspec.Struct, frozen=True):
    allowed: bool
    retry_after_s: float = 0.0  # when refused: seconds until a hit may be allowed
    remaining: int = 0  # whole tokens left after this hit


def _key(stores: Stores, rule: Rule, key: str) -> str:
    return stores.key("rl", rule.name, key)


async def hit(stores: Stores, rule: Rule, key: str, cost: int = 1) -> Verdict:
    """Take ``cost`` tokens from ``key``'s bucket under ``rule``."""
    if rule.off:
        return Verdict(True, 0.0, rule.capacity)
    if cost > rule.capacity:
        raise ValueError(f"rate limit {rule.name!r}: a hit of {cost} can never fit a bucket of {rule.capacity}")
    script = stores.script(_SCRIPT)
    allowed, retry_ms, remaining = await script(
        keys=[_key(stores, rule, key)],
        args=[rule.capacity, int(rule.period_s * 1000), cost, int(rule.lockout_s * 1000), int(rule.lockout_max_s * 1000)],
    )
    return Verdict(bool(allowed), int(retry_ms) / 1000, int(remaining))


_ALL_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local tokens = {}
local retry = 0
for i = 1, n do
  local capacity = tonumber(ARGV[2 * i - 1])
  local period_ms = tonumber(ARGV[2 * i])
  local rate = capacity / period_ms
  local s = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local have = tonumber(s[1]) or capacity
  local ts = tonumber(s[2]) or now
  if now > ts then
    have = math.min(capacity, have + (now - ts) * rate)
  end
  tokens[i] = have
  if have < 1 then
    retry = math.max(retry, math.ceil((1 - have) / rate))
  end
end
local allowed = 0
if retry == 0 then
  allowed = 1
end
local refused_by = 0
for i = 1, n do
  local capacity = tonumber(ARGV[2 * i - 1])
  local period_ms = tonumber(ARGV[2 * i])
  local rate = capacity / period_ms
  if allowed == 1 then
    tokens[i] = tokens[i] - 1
  elseif refused_by == 0 and tokens[i] < 1 then
    refused_by = i
  end
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i]), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.max(math.ceil((capacity - tokens[i]) / rate), 1) + 1000)
end
return {allowed, retry, refused_by}
"""


async def hit_all(stores: Stores, hits: list[tuple[Rule, str]]) -> tuple[Verdict, Rule | None]:
    """One hit on several buckets at once (one script call): allowed only
    when every bucket has a token, and then one is taken from each; a refusal
    takes none. Returns the verdict and the first rule that refused (None when
    allowed). Rules that are off are skipped; rules with a lockout are not
    taken here."""
    live = [(rule, key) for rule, key in hits if not rule.off]
    if any(rule.lockout_s > 0 for rule, _ in live):
        raise ValueError("hit_all takes rules without a lockout")
    if not live:
        return Verdict(True, 0.0, 0), None
    args: list[int] = []
    for rule, _ in live:
        args += [rule.capacity, int(rule.period_s * 1000)]
    allowed, retry_ms, refused_by = await stores.script(_ALL_SCRIPT)(
        keys=[_key(stores, rule, key) for rule, key in live], args=args
    )
    if allowed:
        return Verdict(True, 0.0, 0), None
    return Verdict(False, int(retry_ms) / 1000, 0), live[max(int(refused_by), 1) - 1][0]


def refusal(rule: Rule, verdict: Verdict, message: str = "too many requests; try again later") -> RateLimited:
    """The 429 for a refused hit: code ``rate_limited``, ``Retry-After`` in whole seconds."""
    wait = max(1, math.ceil(verdict.retry_after_s))
    return RateLimited(message, details={"limit": rule.name, "retry_after_s": wait}, headers={"Retry-After": str(wait)})


async def enforce(stores: Stores, rule: Rule, key: str, cost: int = 1, message: str = "too many requests; try again later") -> Verdict:
    """``hit``, raising the 429 (``refusal``) when the hit is refused."""
    verdict = await hit(stores, rule, key, cost)
    if not verdict.allowed:
        raise refusal(rule, verdict, message)
    return verdict


async def count_like(stores: Stores, user_id: str) -> None:
    """One like or unlike, over HTTP or the feed socket: all of a user's share
    one limit (``FABULA_RATE_LIKES``; refused: ``refusal``)."""
    await enforce(stores, rules(stores.settings).likes, user_id, message="too many likes; try again later")


async def reset(stores: Stores, rule: Rule, key: str) -> None:
    """Forget ``key``'s bucket under ``rule`` (full again, no lockout)."""
    if not rule.off:
        await stores.redis.delete(_key(stores, rule, key))


class Rules(msgspec.Struct, frozen=True, kw_only=True):
    """The service's limits, read from the ``FABULA_RATE_*`` settings."""

    login_handle: Rule  # login attempts per handle (reset by a good login), with a growing lockout
    login_ip: Rule  # login attempts per client address, with a growing lockout
    signup_ip: Rule  # accounts made per client address
    password_check: Rule  # current-password checks per user (password change, account deletion)
    export: Rule  # data exports per user
    reports: Rule  # reports per user
    comments: Rule  # comments and replies per user
    videos: Rule  # video creations per user
    search: Rule  # user searches per user
    likes: Rule  # likes and unlikes per user
    follows: Rule  # follows, unfollows, blocks and unblocks per user
    block_list: Rule  # pages of one's own blocked accounts per user
    cameo_uploads: Rule  # cameo and character recordings per user
    cameo_edits: Rule  # cameo settings changes per user
    ws_connection: Rule  # incoming WebSocket messages per connection
    ws_user: Rule  # incoming WebSocket messages per user, every socket together


_cache: dict[int, tuple[Settings, Rules]] = {}


def rules(settings: Settings) -> Rules:
    """The rules ``settings`` name (parsed once per Settings); ValueError on a malformed one."""
    found = _cache.get(id(settings))
    if found is not None and found[0] is settings:
        return found[1]
    lock = {"lockout_s": settings.rate_login_lockout_s, "lockout_max_s": settings.rate_login_lockout_max_s}
    parsed = Rules(
        login_handle=Rule.parse("login:handle", settings.rate_login_handle, **lock),
        login_ip=Rule.parse("login:ip", settings.rate_login_ip, **lock),
        signup_ip=Rule.parse("signup:ip", settings.rate_signup_ip),
        password_check=Rule.parse("password:user", settings.rate_password_check),
        export=Rule.parse("export:user", settings.rate_export),
        reports=Rule.parse("reports:user", settings.rate_reports),
        comments=Rule.parse("comments:user", settings.rate_comments),
        videos=Rule.parse("videos:user", settings.rate_videos),
        search=Rule.parse("search:user", settings.rate_search),
        likes=Rule.parse("likes:user", settings.rate_likes),
        follows=Rule.parse("follows:user", settings.rate_follows),
        block_list=Rule.parse("block-list:user", settings.rate_block_list),
        cameo_uploads=Rule.parse("cameo-uploads:user", settings.rate_cameo_uploads),
        cameo_edits=Rule.parse("cameo-edits:user", settings.rate_cameo_edits),
        ws_connection=Rule.parse("ws:conn", settings.rate_ws_connection),
        ws_user=Rule.parse("ws:user", settings.rate_ws_user),
    )
    _cache[id(settings)] = (settings, parsed)
    return parsed
