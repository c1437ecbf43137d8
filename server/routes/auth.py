"""Sign up, log in, log out (one token or all of them), change the password.

New passwords must be strong enough (``accounts.passwords``: not a common
password, not easily guessed), else 400 ``weak_password``. Attempts are limited (``core.rate_limit``, the ``FABULA_RATE_*`` settings):
logins per handle and per client address, with a lockout that grows each
time a bucket runs dry (a good login resets its handle's bucket), and
signups per client address. A refused attempt is a 429 with Retry-After,
checked before any password is hashed. A sign-up declares a birth date
(``birth_date``, ``YYYY-MM-DD``): under 13 is 403 ``too_young``, a date
in the future or before 1900 is 422 ``invalid_birth_date``, and an
account under 18 is a minor (``accounts.minors``). A password change needs the
current password (403 ``wrong_password``; limited per user) and revokes
every other token of the user, closing their WebSockets (4401)."""

from __future__ import annotations

import datetime
from typing import Annotated

import msgspec
from litestar import Request, post
from litestar.params import JSONBody

from accounts import credentials, minors, passwords, tokens
from accounts.credentials import Session
from accounts.users import Handle, check_handle, handle_key
from core import rate_limit
from server.auth import AUTH, UserDep, bearer_token, client_address, refuse_suspended
from server.openapi import errors
from server.state import SettingsDep, StoresDep

TOO_MANY_LOGINS = "too many login attempts; try again later"


BirthDate = Annotated[
    datetime.date,
    msgspec.Meta(description="YYYY-MM-DD; at least 13 years ago (403 too_young), not in the future nor before 1900 (422 invalid_birth_date)"),
]


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    handle: Handle
    password: passwords.Password
    birth_date: BirthDate

    def __post_init__(self) -> None:
        check_handle(self.handle)


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    # Deliberately loose: a handle or password that could never have been
    # registered gets the same 401 as any other wrong pair, not a 400.
    handle: Annotated[str, msgspec.Meta(max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=passwords.MAX_LENGTH)]


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(max_length=passwords.MAX_LENGTH)]
    new_password: passwords.Password


class Revoked(msgspec.Struct):
    """How many tokens stopped working."""

    revoked: int


@post("/v1/auth/signup", status_code=201, tags=["auth"], responses=errors(403, 409, 422, 429))
async def signup(data: JSONBody[SignupIn], request: Request, stores: StoresDep, settings: SettingsDep) -> Session:
    """Create an account and return its first token (409 when the handle is
    taken, ignoring case; 400 ``weak_password`` for a common or guessable
    password; 403 ``too_young`` under 13; 422 ``invalid_birth_date`` for a
    birth date in the future or before 1900; 429 past the signups allowed
    from one address). An account under 18 is a minor: see docs/SAFETY.md."""
    rules = rate_limit.rules(settings)
    await rate_limit.enforce(stores, rules.signup_ip, client_address(request), message="too many signups; try again later")
    birth_date = minors.check_birth_date(data.birth_date)
    await passwords.require_strong(data.password, handle=data.handle)
    return await credentials.signup(stores, data.handle, data.password, birth_date)


@post("/v1/auth/login", status_code=200, tags=["auth"], responses=errors(401, 403, 429))
async def login(data: JSONBody[LoginIn], request: Request, stores: StoresDep, settings: SettingsDep) -> Session:
    """Exchange a handle and password for a new token. A wrong password and an
    unknown handle get the same 401; too many attempts on a handle or from an
    address get 429 with Retry-After, even with the right password."""
    rules = rate_limit.rules(settings)
    handle = handle_key(data.handle)
    await rate_limit.enforce(stores, rules.login_ip, client_address(request), message=TOO_MANY_LOGINS)
    await rate_limit.enforce(stores, rules.login_handle, handle, message=TOO_MANY_LOGINS)
    session = await credentials.login(stores, data.handle, data.password)
    await rate_limit.reset(stores, rules.login_handle, handle)
    await refuse_suspended(stores, session.user.id, session.token)
    return session


@post("/v1/auth/logout", status_code=204, tags=["auth"], dependencies=AUTH, responses=errors(401))
async def logout(request: Request, stores: StoresDep, user: UserDep) -> None:
    """Revoke the token this request was made with; its WebSockets close (4401)."""
    token = bearer_token(request)
    if token is not None:
        await tokens.revoke(stores, token)


@post("/v1/auth/logout-all", status_code=200, tags=["auth"], dependencies=AUTH, responses=errors(401))
async def logout_all(stores: StoresDep, user: UserDep) -> Revoked:
    """Log out everywhere: revoke every token of the signed-in user, this one
    included; their WebSockets close (4401)."""
    return Revoked(revoked=await tokens.revoke_all(stores, user.id))


@post("/v1/auth/password", status_code=200, tags=["auth"], dependencies=AUTH, responses=errors(401, 403, 429))
async def change_password(
    data: JSONBody[PasswordChange], request: Request, stores: StoresDep, settings: SettingsDep, user: UserDep
) -> Revoked:
    """Change the signed-in user's password. Needs the current one (403
    ``wrong_password``); the new one must be strong enough (400
    ``weak_password``) and another (400 ``same_password``). Every other token of the user is revoked and its
    WebSockets close (4401); the token of this request keeps working."""
    await rate_limit.enforce(stores, rate_limit.rules(settings).password_check, user.id, message="too many password checks; try again later")
    await passwords.require_strong(data.new_password, handle=user.handle, field="new_password")
    revoked = await credentials.change_password(stores, user, data.current_password, data.new_password, keep_token=bearer_token(request))
    return Revoked(revoked=revoked)


ROUTES = [signup, login, logout, logout_all, change_password]
