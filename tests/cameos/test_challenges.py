"""cameos.challenges against the real Valkey: shape, one use, expiry, owner only, rate."""

from __future__ import annotations

import asyncio
import time

import pytest

from cameos import challenges
from core.errors import FabulaError
from tests.cameos.helpers import new_user


async def test_a_challenge_has_digits_moves_and_three_minutes(stores):
    user = await new_user(stores)
    before = int(time.time())
    c = await challenges.new_challenge(stores, user.id)
    assert c.id.startswith("chal_") and len(c.id) == 31
    assert c.digits.isdigit() and 4 <= len(c.digits) <= 6
    assert sorted(c.moves) == ["left", "right"]
    assert before + 180 <= c.expires_at <= int(time.time()) + 180
    key = stores.key("cameo", "challenge", user.id, c.id)
    assert 170 <= await stores.redis.ttl(key) <= 180


def test_digits_and_moves_are_random():
    digits = {challenges.random_digits() for _ in range(300)}
    assert len(digits) > 250
    assert {len(d) for d in digits} == {4, 5, 6}
    assert {tuple(challenges.random_moves()) for _ in range(100)} == {("left", "right"), ("right", "left")}


async def test_a_challenge_is_used_once(stores):
    user = await new_user(stores)
    c = await challenges.new_challenge(stores, user.id)
    taken = await challenges.take_challenge(stores, user.id, c.id)
    assert taken == c
    with pytest.raises(FabulaError) as exc:
        await challenges.take_challenge(stores, user.id, c.id)
    assert exc.value.status == 410 and exc.value.code == "challenge_used"


async def test_two_uploads_racing_with_one_challenge_get_it_once(stores):
    user = await new_user(stores)
    c = await challenges.new_challenge(stores, user.id)
    results = await asyncio.gather(*(challenges.take_challenge(stores, user.id, c.id) for _ in range(8)), return_exceptions=True)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 1
    assert all(r.code == "challenge_used" for r in results if isinstance(r, Exception))


async def test_an_expired_or_unknown_challenge_is_gone(stores):
    user = await new_user(stores)
    c = await challenges.new_challenge(stores, user.id)
    await stores.redis.delete(stores.key("cameo", "challenge", user.id, c.id))  # what its TTL does after 3 minutes
    with pytest.raises(FabulaError) as exc:
        await challenges.take_challenge(stores, user.id, c.id)
    assert exc.value.status == 410 and exc.value.code == "challenge_expired"
    with pytest.raises(FabulaError) as exc:
        await challenges.take_challenge(stores, user.id, "chal_" + "0" * 26)
    assert exc.value.code == "challenge_expired"


async def test_the_ttl_expires_a_challenge(stores):
    user = await new_user(stores)
    c = await challenges.new_challenge(stores, user.id)
    key = stores.key("cameo", "challenge", user.id, c.id)
    await stores.redis.pexpire(key, 50)
    deadline = time.monotonic() + 5
    while await stores.redis.exists(key):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    with pytest.raises(FabulaError) as exc:
        await challenges.take_challenge(stores, user.id, c.id)
    assert exc.value.code == "challenge_expired"


async def test_only_its_user_can_take_a_challenge(stores):
    owner, other = await new_user(stores), await new_user(stores)
    c = await challenges.new_challenge(stores, owner.id)
    with pytest.raises(FabulaError) as exc:
        await challenges.take_challenge(stores, other.id, c.id)
    assert exc.value.status == 410
    # the other user's attempt did not use it up
    assert (await challenges.take_challenge(stores, owner.id, c.id)).digits == c.digits


@pytest.mark.parametrize("bad", ["", "chal_", "chal_" + "Z" * 26, "x" * 31, "chal_" + "0" * 25 + ":", "chal_" + "0" * 27])
async def test_a_malformed_id_is_a_400(stores, bad):
    with pytest.raises(FabulaError) as exc:
        await challenges.take_challenge(stores, "user_x", bad)
    assert exc.value.status == 400 and exc.value.code == "invalid_challenge_id"


async def test_challenges_are_rate_limited_per_user(stores):
    user, other = await new_user(stores), await new_user(stores)
    for _ in range(challenges.MAX_PER_WINDOW):
        await challenges.new_challenge(stores, user.id)
    with pytest.raises(FabulaError) as exc:
        await challenges.new_challenge(stores, user.id)
    assert exc.value.status == 429 and exc.value.code == "too_many_challenges"
    await challenges.new_challenge(stores, other.id)  # another user is not affected
    ttl = await stores.redis.ttl(stores.key("cameo", "challenges-made", user.id))
    assert 0 < ttl <= challenges.TTL_S
    # the answer says when the window ends
    wait = int(exc.value.headers["Retry-After"])
    assert ttl <= wait <= challenges.TTL_S and exc.value.details == {"retry_after_s": wait}, (wait, ttl, exc.value.details)
