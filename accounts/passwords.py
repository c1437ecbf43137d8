"""Argon2id password hashing (argon2-cffi, library default parameters), and
the strength a new password must have.

Hashing costs about a tenth of a second of CPU and 64 MiB of memory, so it
runs on a small dedicated thread pool: the event loop stays free and at most
one hash per core is in flight, whatever the number of concurrent logins.

A new password (signup, password change) must not be one of the 30,000
most common passwords (the list that ships in the ``zxcvbn`` package), and
zxcvbn's estimate of the guesses it takes must reach ``MIN_SCORE`` (2: about
a million guesses or more; the handle counts as a known word). Only the first
``STRENGTH_CHARS`` characters are estimated, which bounds the cost (up to
about a tenth of a second: ``require_strong`` runs it on the hashing pool)."""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from core.errors import BadRequest

MIN_LENGTH = 8
MAX_LENGTH = 256

Password = Annotated[
    str,
    msgspec.Meta(min_length=MIN_LENGTH, max_length=MAX_LENGTH, description="8 to 256 characters"),
]

MIN_SCORE = 2
STRENGTH_CHARS = 64
COMMON: frozenset[str] = frozenset(FREQUENCY_LISTS["passwords"])


def check_strength(password: str, *, handle: str = "") -> None:
    """Raise ValueError, saying why, when ``password`` is common or easily guessed."""
    if password.lower() in COMMON:
        raise ValueError("password is one of the most common passwords; choose another")
    estimate = zxcvbn(password[:STRENGTH_CHARS], user_inputs=[handle] if handle else [], max_length=STRENGTH_CHARS)
    if estimate["score"] < MIN_SCORE:
        hint = estimate["feedback"].get("warning") or "add more words or characters"
        raise ValueError(f"password is too easy to guess ({hint.rstrip('.')}); a few unrelated words make a good one")


_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="argon2")
# Verified against when a login names no existing user, so that an unknown
# handle costs the same as a wrong password. Same parameters as real hashes.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))


async def _run(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)


async def require_strong(password: str, *, handle: str = "", field: str = "password") -> None:
    """``check_strength`` off the event loop; raises BadRequest (400
    ``weak_password``, naming ``field``) for a weak password."""
    try:
        await _run(lambda: check_strength(password, handle=handle))
    except ValueError as exc:
        raise BadRequest(str(exc), code="weak_password", details=[{"field": field, "message": str(exc), "source": "body"}]) from None


async def hash_password(password: str) -> str:
    return await _run(_hasher.hash, password)


def _verify(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(encoded: str, password: str) -> bool:
    """True when ``password`` matches ``encoded``; False on mismatch or a damaged hash."""
    return await _run(_verify, encoded, password)


async def verify_nothing(password: str) -> None:
    """Spend the time of one verification without any account behind it."""
    await _run(_verify, _DUMMY_HASH, password)


def needs_rehash(encoded: str) -> bool:
    """True when ``encoded`` was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(encoded)
    except InvalidHashError:
        return True
