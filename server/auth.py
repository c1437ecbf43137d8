"""Bearer-token authentication.

HTTP requests carry ``Authorization: Bearer <token>``. WebSocket clients may
pass ``?token=<token>`` instead, since browsers cannot set headers on a
WebSocket handshake; plain HTTP requests never read the query string, so
tokens stay out of URLs (and access logs) there.

Routes take the signed-in user as a dependency::

    @get("/v1/me", dependencies=AUTH, responses=errors(401))
    async def me(user: UserDep) -> User: ...
"""

from __future__ import annotations

import hmac

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler

from accounts import suspensions, tokens, users
from accounts.users import User
from core.errors import Forbidden, NotFound, Unauthorized
from core.stores import Stores
from server.state import StoresDep


def bearer_token(connection: ASGIConnection) -> str | None:
    """The token a request or WebSocket handshake presents, or None."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        return value if scheme.lower() == "bearer" and value else None
    if connection.scope["type"] == "websocket":
        return connection.query_params.get("token") or None
    return None


def client_address(connection: ASGIConnection) -> str:
    """The client's address, for per-address limits. Behind a reverse proxy
    this is the address the proxy forwards (uvicorn reads X-Forwarded-For from
    the proxies in FORWARDED_ALLOW_IPS, by default the loopback only)."""
    client = connection.scope.get("client")
    return client[0] if client else "unknown"


async def token_from_scope(connection: ASGIConnection, stores: Stores | None = None) -> User:
    """The user behind the connection's token; raises Unauthorized when it is
    missing, unknown, revoked or expired. For HTTP routes and WebSocket handshakes alike."""
    stores = stores if stores is not None else connection.app.state.stores
    token = bearer_token(connection)
    if token is None:
        raise Unauthorized("a bearer token is required", code="missing_token")
    user_id = await tokens.resolve(stores, token)
    user = await users.get_user(stores, user_id) if user_id else None
    if user is None:
        raise Unauthorized("invalid, expired or revoked token", code="invalid_token")
    return user


async def refuse_suspended(stores: Stores, user_id: str, token: str | None = None) -> None:
    """403 ``account_suspended`` for a suspended account (its tokens were
    revoked when it was suspended; ``token``, just issued, is revoked too)."""
    if await suspensions.is_suspended(stores, user_id):
        if token is not None:
            await tokens.revoke(stores, token)
        raise Forbidden("this account is suspended", code="account_suspended")


async def auth_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """On every HTTP route that takes the signed-in user (``AUTH``), the token
    is checked before anything else of the request is read: a request without
    a valid token is a 401, whatever else is wrong with it (its body, its
    query). The user found is kept for ``current_user``."""
    if connection.scope["type"] == "http" and "user" in handler.resolve_dependencies():
        connection.state.user = await token_from_scope(connection)


async def current_user(request: Request, stores: StoresDep) -> User:
    """The signed-in user (the ``user`` dependency): the one ``auth_guard`` found."""
    found = getattr(request.state, "user", None)
    return found if found is not None else await token_from_scope(request, stores)


AUTH = {"user": Provide(current_user)}

UserDep = NamedDependency[User]
"""The ``user`` dependency that ``AUTH`` provides: the signed-in user."""


def metrics_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """``/metrics`` for anyone when ``metrics_public``, else only for the
    bearer of ``metrics_token`` (the app does not serve it with neither)."""
    settings = connection.app.state.settings
    if settings.metrics_public:
        return
    presented = bearer_token(connection) or ""
    if not settings.metrics_token or not hmac.compare_digest(presented.encode(), settings.metrics_token.encode()):
        raise Unauthorized("the metrics token is required", code="invalid_token")


def schema_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """``/schema`` (the OpenAPI document and its viewers) only with ``openapi`` on."""
    if not connection.app.state.settings.openapi:
        raise NotFound("not found", code="not_found")
