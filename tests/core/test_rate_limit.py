"""core.rate_limit against the real Valkey: buckets, refill, lockouts, keys
apart, rules from settings, and the 429 it raises."""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
import pytest

from core import rate_limit
from core.errors import RateLimited
from core.rate_limit import Rule
from core.settings import Settings, load_settings


def fresh(prefix: str = "k") -> str:
    return prefix + uuid.uuid4().hex[:10]


async def until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_rule_text():
    r = Rule.parse("x", "10/10m")
    assert (r.capacity, r.period_s, r.off) == (10, 600.0, False)
    assert Rule.parse("x", "5/60").period_s == 60.0
    assert Rule.parse("x", " 3 / 1.5s ").period_s == 1.5
    assert Rule.parse("x", "2/1h").period_s == 3600.0 and Rule.parse("x", "2/1d").period_s == 86400.0
    for text in ("off", "OFF", "0", ""):
        assert Rule.parse("x", text).off
    for bad in ("10", "ten/60", "10/0", "10/5y", "-1/60", "10/60/60"):
        with pytest.raises(ValueError):
            Rule.parse("x", bad)
    locked = Rule.parse("x", "1/1m", lockout_s=60, lockout_max_s=10)
    assert locked.lockout_max_s == 60  # never shorter than the first lockout


def test_rules_come_from_settings():
    s = load_settings({"FABULA_RATE_LOGIN_HANDLE": "3/30s", "FABULA_RATE_SIGNUP_IP": "off", "FABULA_RATE_LOGIN_LOCKOUT_S": "5"})
    rules = rate_limit.rules(s)
    assert (rules.login_handle.capacity, rules.login_handle.period_s, rules.login_handle.lockout_s) == (3, 30.0, 5)
    assert rules.signup_ip.off and not rules.login_ip.off
    assert rate_limit.rules(s) is rules  # parsed once
    with pytest.raises(ValueError):
        rate_limit.rules(Settings(rate_export="lots"))


async def test_bucket_allows_a_burst_then_refuses(stores):
    rule = Rule(name="t-burst", capacity=3, period_s=3600)
    key = fresh()
    verdicts = [await rate_limit.hit(stores, rule, key) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]
    # one token comes back every 1200 s
    assert 1190 < verdicts[3].retry_after_s <= 1200
    # other keys and other rules have their own buckets
    assert (await rate_limit.hit(stores, rule, fresh())).allowed
    assert (await rate_limit.hit(stores, Rule(name="t-other", capacity=1, period_s=3600), key)).allowed


async def test_bucket_refills_with_time(stores):
    rule = Rule(name="t-refill", capacity=2, period_s=0.4)  # one token every 0.2 s
    key = fresh()
    assert (await rate_limit.hit(stores, rule, key)).allowed
    assert (await rate_limit.hit(stores, rule, key)).allowed
    refused = await rate_limit.hit(stores, rule, key)
    assert not refused.allowed and 0 < refused.retry_after_s <= 0.2

    async def allowed_again():
        return (await rate_limit.hit(stores, rule, key)).allowed

    await until(allowed_again, what="a refilled token")


async def test_cost_takes_several_tokens(stores):
    rule = Rule(name="t-cost", capacity=5, period_s=3600)
    key = fresh()
    assert (await rate_limit.hit(stores, rule, key, cost=4)).allowed
    assert not (await rate_limit.hit(stores, rule, key, cost=2)).allowed
    assert (await rate_limit.hit(stores, rule, key, cost=1)).allowed
    with pytest.raises(ValueError):
        await rate_limit.hit(stores, rule, key, cost=6)


async def test_lockout_grows_each_time_the_bucket_runs_dry(stores):
    # a token every 0.2 s, and a 0.3 s lockout that doubles
    rule = Rule(name="t-lock", capacity=1, period_s=0.2, lockout_s=0.3, lockout_max_s=1.0)
    key = fresh()
    assert (await rate_limit.hit(stores, rule, key)).allowed
    first = await rate_limit.hit(stores, rule, key)
    assert not first.allowed and first.retry_after_s == 0.3
    # locked: the refilled bucket does not help, and a hit does not lengthen the lockout
    await asyncio.sleep(0.21)  # a token is back
    during = await rate_limit.hit(stores, rule, key)
    assert not during.allowed and during.retry_after_s < 0.1
    await until(lambda: _allowed(stores, rule, key), what="the end of the first lockout")
    second = await rate_limit.hit(stores, rule, key)
    assert not second.allowed and second.retry_after_s == 0.6  # doubled
    await until(lambda: _allowed(stores, rule, key), what="the end of the second lockout")
    third = await rate_limit.hit(stores, rule, key)
    assert not third.allowed and third.retry_after_s == 1.0  # capped at lockout_max_s
    # reset forgets the key: a full bucket and no lockout
    await rate_limit.reset(stores, rule, key)
    assert (await rate_limit.hit(stores, rule, key)).allowed


async def _allowed(stores, rule, key) -> bool:
    return (await rate_limit.hit(stores, rule, key)).allowed


async def test_idle_buckets_expire(stores):
    rule = Rule(name="t-ttl", capacity=2, period_s=10)
    key = fresh()
    await rate_limit.hit(stores, rule, key)
    ttl_ms = await stores.redis.pttl(stores.key("rl", rule.name, key))
    assert 0 < ttl_ms <= 5000 + 1000 + 100  # the time to refill one token, plus a second


async def test_concurrent_hits_never_overdraw(stores):
    rule = Rule(name="t-race", capacity=10, period_s=3600)
    key = fresh()
    verdicts = await asyncio.gather(*(rate_limit.hit(stores, rule, key) for _ in range(40)))
    assert sum(v.allowed for v in verdicts) == 10


async def test_off_rule_allows_everything_without_redis(stores):
    rule = Rule.parse("t-off", "off")
    key = fresh()
    assert all([(await rate_limit.hit(stores, rule, key)).allowed for _ in range(50)])
    assert not await stores.redis.exists(stores.key("rl", rule.name, key))


async def test_enforce_raises_the_429(stores):
    rule = Rule(name="t-enforce", capacity=1, period_s=90)
    key = fresh()
    await rate_limit.enforce(stores, rule, key)
    with pytest.raises(RateLimited) as raised:
        await rate_limit.enforce(stores, rule, key, message="slow down")
    err = raised.value
    assert (err.status, err.code, err.message) == (429, "rate_limited", "slow down")
    assert err.headers == {"Retry-After": "90"}
    assert msgspec.to_builtins(err.body())["error"]["details"] == {"limit": "t-enforce", "retry_after_s": 90}


async def test_hit_all_takes_from_every_bucket_or_from_none(stores):
    small = Rule(name="t-all-small", capacity=2, period_s=3600)
    big = Rule(name="t-all-big", capacity=3, period_s=3600)
    a, b = fresh(), fresh()
    for _ in range(2):
        verdict, refused_by = await rate_limit.hit_all(stores, [(small, a), (big, b)])
        assert verdict.allowed and refused_by is None
    verdict, refused_by = await rate_limit.hit_all(stores, [(small, a), (big, b)])
    assert not verdict.allowed and refused_by is small and 0 < verdict.retry_after_s <= 1800 + 1  # one token comes back every 1800 s (and the script rounds up to the millisecond)
    # the refusal took nothing from the other bucket: its last token is still there
    assert (await rate_limit.hit(stores, big, b)).allowed
    assert not (await rate_limit.hit(stores, big, b)).allowed
    verdict, refused_by = await rate_limit.hit_all(stores, [(Rule(name="t-all-x", capacity=5), fresh()), (big, b)])
    assert not verdict.allowed and refused_by is big
    # rules that are off are skipped; rules with a lockout are not taken
    verdict, refused_by = await rate_limit.hit_all(stores, [(Rule(name="t-off", capacity=0), a)])
    assert verdict.allowed and refused_by is None
    with pytest.raises(ValueError):
        await rate_limit.hit_all(stores, [(Rule(name="t-lock", capacity=1, lockout_s=5, lockout_max_s=5), a)])
