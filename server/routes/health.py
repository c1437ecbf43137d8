"""Liveness and readiness probes."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.datastructures import State

from server.openapi import errors


class Health(msgspec.Struct):
    status: str
    checks: dict[str, bool] = {}


@get("/healthz", sync_to_thread=False, tags=["health"], responses=errors())
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@get("/readyz", tags=["health"], responses=errors(503))
async def readyz(state: State) -> Response[Health]:
    """Mongo and Redis both answer."""
    checks = await state.stores.ping()
    ok = all(checks.values())
    return Response(Health(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)


ROUTES = [healthz, readyz]
