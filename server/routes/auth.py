"""Sign up, log in, log out."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Request, post

from accounts import credentials, passwords, tokens
from accounts.credentials import Session
from accounts.users import Handle, User, check_handle
from core.stores import Stores
from server.auth import AUTH, bearer_token
from server.openapi import errors


class SignupIn(msgspec.Struct, forbid_unknown_fields=True):
    handle: Handle
    password: passwords.Password

    def __post_init__(self) -> None:
        check_handle(self.handle)


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    # Deliberately loose: a handle or password that could never have been
    # registered gets the same 401 as any other wrong pair, not a 400.
    handle: Annotated[str, msgspec.Meta(max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=passwords.MAX_LENGTH)]


@post("/v1/auth/signup", status_code=201, tags=["auth"], responses=errors(409))
async def signup(data: SignupIn, stores: Stores) -> Session:
    """Create an account and return its first token (409 when the handle is taken, ignoring case)."""
    return await credentials.signup(stores, data.handle, data.password)


@post("/v1/auth/login", status_code=200, tags=["auth"], responses=errors(401))
async def login(data: LoginIn, stores: Stores) -> Session:
    """Exchange a handle and password for a new token. A wrong password and an
    unknown handle get the same 401."""
    return await credentials.login(stores, data.handle, data.password)


@post("/v1/auth/logout", status_code=204, tags=["auth"], dependencies=AUTH, responses=errors(401))
async def logout(request: Request, stores: Stores, user: User) -> None:
    """Revoke the token this request was made with."""
    token = bearer_token(request)
    if token is not None:
        await tokens.revoke(stores, token)


ROUTES = [signup, login, logout]
