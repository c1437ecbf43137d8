"""Signing up, logging in and changing a password: a handle and a password
in, a bearer token out.

A failed login says the same thing, with the same status, whether the handle
exists or not, and costs the same: an unknown handle is verified against a
dummy hash of the same parameters."""

from __future__ import annotations

import msgspec

from accounts import passwords, tokens, users
from accounts.users import Me, User
from core.errors import BadRequest, Forbidden, Unauthorized
from core.stores import Stores


class Session(msgspec.Struct, kw_only=True):
    """What signup and login return: the token is shown this once; the user
    as their owner sees them (``accounts.users.Me``)."""

    token: str
    expires_at: int
    user: Me


def invalid_credentials() -> Unauthorized:
    return Unauthorized("wrong handle or password", code="invalid_credentials")


async def signup(stores: Stores, handle: str, password: str, birth_date: str | None = None) -> Session:
    """Create a user and a first token; raises Conflict when the handle is taken.
    ``birth_date``: ``YYYY-MM-DD``, checked already (``accounts.minors.check_birth_date``)."""
    encoded = await passwords.hash_password(password)
    user = await users.create_user(stores, handle, encoded, birth_date)
    issued = await tokens.issue(stores, user.id)
    return Session(token=issued.token, expires_at=issued.expires_at, user=users.owner_view(user, birth_date))


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


def wrong_password() -> Forbidden:
    return Forbidden("the current password is wrong", code="wrong_password")


async def check_password(stores: Stores, user: User, password: str) -> None:
    """Raise Forbidden (``wrong_password``) unless ``password`` is ``user``'s
    (a signed-in user confirming a sensitive change)."""
    found = await users.credentials(stores, user.handle)
    if found is None or found[0].id != user.id:
        await passwords.verify_nothing(password)
        raise wrong_password()
    if not await passwords.verify_password(found[1], password):
        raise wrong_password()


async def change_password(stores: Stores, user: User, current: str, new: str, *, keep_token: str | None) -> int:
    """Set ``user``'s password to ``new`` once ``current`` is confirmed, and
    revoke every token of theirs but ``keep_token``; returns how many were revoked."""
    await check_password(stores, user, current)
    if new == current:  # a "change" to the same password would sign out every other device for nothing
        raise BadRequest("the new password is the one the account has now; choose another", code="same_password", details=[{"field": "new_password"}])
    await users.set_password_hash(stores, user.id, await passwords.hash_password(new))
    return await tokens.revoke_all(stores, user.id, keep=keep_token)
