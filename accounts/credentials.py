"""Signing up and logging in: a handle and a password in, a bearer token out.

A failed login says the same thing, with the same status, whether the handle
exists or not, and costs the same: an unknown handle is verified against a
dummy hash of the same parameters."""

from __future__ import annotations

import msgspec

from accounts import passwords, tokens, users
from accounts.users import User
from core.errors import Unauthorized
from core.stores import Stores


class Session(msgspec.Struct, kw_only=True):
    """What signup and login return: the token is shown this once."""

    token: str
    expires_at: int
    user: User


def invalid_credentials() -> Unauthorized:
    return Unauthorized("wrong handle or password", code="invalid_credentials")


async def signup(stores: Stores, handle: str, password: str) -> Session:
    """Create a user and a first token; raises Conflict when the handle is taken."""
    encoded = await passwords.hash_password(password)
    user = await users.create_user(stores, handle, encoded)
    issued = await tokens.issue(stores, user.id)
    return Session(token=issued.token, expires_at=issued.expires_at, user=user)


async def login(stores: Stores, handle: str, password: str) -> Session:
    """A new token for the owner of ``handle``; raises Unauthorized on any mismatch."""
    found = await users.credentials(stores, handle)
    if found is None:
        await passwords.verify_nothing(password)
        raise invalid_credentials()
    user, encoded = found
    if not await passwords.verify_password(encoded, password):
        raise invalid_credentials()
    if passwords.needs_rehash(encoded):
        await users.set_password_hash(stores, user.id, await passwords.hash_password(password))
    issued = await tokens.issue(stores, user.id)
    return Session(token=issued.token, expires_at=issued.expires_at, user=user)
