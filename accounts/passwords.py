"""Argon2id password hashing (argon2-cffi, library default parameters).

Hashing costs about a tenth of a second of CPU and 64 MiB of memory, so it
runs on a small dedicated thread pool: the event loop stays free and at most
one hash per core is in flight, whatever the number of concurrent logins."""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 256

Password = Annotated[
    str,
    msgspec.Meta(min_length=MIN_LENGTH, max_length=MAX_LENGTH, description="8 to 256 characters"),
]

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="argon2")
# Verified against when a login names no existing user, so that an unknown
# handle costs the same as a wrong password. Same parameters as real hashes.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))


async def _run(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)


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
