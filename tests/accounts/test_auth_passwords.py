"""Password strength: common and easily guessed passwords are refused at
signup and at a password change (zxcvbn's estimate and its list of common
passwords, which ship in the package)."""

from __future__ import annotations

import uuid

import pytest

from accounts import passwords
from tests.accounts.test_auth_routes import assert_error

WEAK = ["password", "password1", "Password123", "qwertyuiop", "12345678", "iloveyou", "letmein1", "aaaaaaaa", "abcd1234"]
STRONG = ["correct horse battery", "purple elephant sunrise", "a long enough password", "Tr0ub4dor&3-x"]


@pytest.mark.parametrize("pw", WEAK)
def test_weak_passwords_are_refused(pw):
    with pytest.raises(ValueError):
        passwords.check_strength(pw)


@pytest.mark.parametrize("pw", STRONG)
def test_strong_passwords_pass(pw):
    passwords.check_strength(pw)


def test_the_handle_does_not_make_a_password():
    passwords.check_strength("maximilian_2024", handle="someone")
    with pytest.raises(ValueError):
        passwords.check_strength("maximilian_2024", handle="maximilian_2024")


def test_the_common_list_ships_in_a_package():
    assert len(passwords.COMMON) >= 10_000 and "password" in passwords.COMMON


def test_long_passwords_are_checked_quickly():
    import time

    started = time.perf_counter()
    passwords.check_strength("correct horse battery staple " * 9)  # 261 characters, past zxcvbn's 72
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("pw", ["password", "password1", "qwertyuiop", "12345678"])
async def test_signup_refuses_weak_passwords(http, stores, pw):
    handle = "pw_" + uuid.uuid4().hex[:10]
    err = assert_error(await http.post("/v1/auth/signup", json={"handle": handle, "password": pw, "birth_date": "1990-01-01"}), 400)
    assert "password" in err["message"] and err["code"] == "weak_password"
    # the shape every field error has (docs/API.md): which field, why, where
    assert err["details"] == [{"field": "password", "message": err["message"], "source": "body"}], err
    assert await stores.db.users.count_documents({"handle_lc": handle}) == 0
