"""Liveness and readiness probes."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.datastructures import State

from gen import heartbeat
from server.openapi import errors

READY_STATES = ("idle", "busy")  # a worker with its model loaded


class Health(msgspec.Struct, omit_defaults=True):
    status: str
    checks: dict[str, bool] = {}
    # generation workers ready now (model loaded, heartbeat alive); None when Redis does not answer
    workers: int | None = None
    # this api process has loaded its prompt classifier (it loads in the background at start)
    moderation: bool | None = None


@get("/healthz", sync_to_thread=False, tags=["health"], responses=errors())
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


async def ready_workers(stores) -> int | None:
    try:
        alive = await heartbeat.list_workers(stores)
    except Exception:  # noqa: BLE001 - Redis down: the checks say so
        return None
    return sum(1 for w in alive if w.state in READY_STATES)


@get("/readyz", tags=["health"], responses=errors(503))
async def readyz(state: State) -> Response[Health]:
    """Mongo and Redis both answer (200, else 503 with ``Retry-After``);
    ``workers`` counts the generation workers ready to take a job (0: videos
    wait in the queue until one is); ``moderation`` says whether this process
    has loaded its prompt classifier (until then the first create waits for it)."""
    checks = await state.stores.ping()
    ok = all(checks.values())
    workers = await ready_workers(state.stores) if checks.get("redis") else None
    loading = getattr(state, "moderation", None)
    moderation = loading.done() and not loading.cancelled() and loading.exception() is None if loading else None
    body = Health(status="ok" if ok else "unavailable", checks=checks, workers=workers, moderation=moderation)
    return Response(body, status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "1"})


ROUTES = [healthz, readyz]
