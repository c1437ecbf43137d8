"""The Litestar app factory: settings, stores, indexes, routes, errors, metrics,
the feed's runtime (``feed.live.runtime``), the collector's clock
(``core.gc_clock``), the heap's trim (``core.heap_trim``) and the prompt classifier, loaded in the background at start."""

from __future__ import annotations

import asyncio

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from core import gc_clock, heap_trim, subscription
from core.settings import Settings, load_settings
from core.stores import open_stores
from feed.live import runtime as feed_runtime
from policy import moderation_model
from server.openai_errors import APP_ERROR_HANDLERS
from server.page_not_found import or_app_page
from server.auth import auth_guard, metrics_guard, schema_guard
from server.indexes import ensure_all
from server.openapi import StructSchemas, declare_request_bodies
from server.head_requests import HeadAsGet
from server.route_options import options_handlers
from server.request_log import RequestLogMiddleware
from server.rtc import peers as rtc_peers
from server.routes import ROUTE_MODULES
from server.state import get_settings, get_stores


class Metrics(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    guards = [metrics_guard]  # public, or behind FABULA_METRICS_TOKEN


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()

    async def open_connections(app: Litestar) -> None:
        app.state.collector = asyncio.create_task(gc_clock.collect_often(), name="gc")
        app.state.heap_trim = asyncio.create_task(heap_trim.trim_often(settings.heap_trim_every_s), name="heap-trim")
        app.state.stores = open_stores(settings)
        await ensure_all(app.state.stores)
        await feed_runtime.start(app)  # candidate pool loaded, live counts subscribed
        # the prompt classifier loads in the background, so the first video does not wait for it
        app.state.moderation = asyncio.create_task(asyncio.to_thread(moderation_model.load), name="moderation-load")

    async def close_connections(app: Litestar) -> None:
        for name in ("collector", "heap_trim"):
            task = getattr(app.state, name, None)
            if task is not None:
                task.cancel()
        await rtc_peers.close_all()  # live previews over WebRTC end before the stores close
        await feed_runtime.stop(app)
        stores = getattr(app.state, "stores", None)
        if stores is not None:
            await subscription.stop_all(stores)  # the notifications' and token revocations' readers, before their connections close
            await stores.close()

    prometheus = PrometheusConfig(app_name="fabula", prefix="fabula", group_path=True, exclude=["/metrics"])
    handlers: list = [Metrics] if settings.metrics_public or settings.metrics_token else []
    for module in ROUTE_MODULES:
        handlers.extend(module.ROUTES)
    declare_request_bodies(handlers)  # every write states its request body in the OpenAPI document
    handlers = options_handlers(handlers) + handlers  # before them: OPTIONS names every method of a path

    app = Litestar(
        route_handlers=handlers,
        on_startup=[open_connections],
        on_shutdown=[close_connections],
        dependencies={
            "stores": Provide(get_stores, sync_to_thread=False),
            "settings": Provide(get_settings, sync_to_thread=False),
        },
        guards=[auth_guard],  # a route's token before its body and query (server.auth)
        exception_handlers={**APP_ERROR_HANDLERS, NotFoundException: or_app_page(APP_ERROR_HANDLERS[HTTPException])},
        middleware=[prometheus.middleware],
        plugins=[StructSchemas()],  # Structs that refuse unknown fields say so in the OpenAPI document
        request_max_body_size=settings.max_body_bytes,
        # /schema is served only when asked for (FABULA_OPENAPI; `fabula dev` turns it on)
        openapi_config=OpenAPIConfig(
            title="Fabula", version="0.1.0", path="/schema",
            openapi_router=Router("/schema", route_handlers=[], guards=[schema_guard], include_in_schema=False),
        ),
        state=State({"settings": settings}),
        logging_config=None,
        debug=False,
    )
    # the request log outermost, so the router's own 404/405 answers get a request id and a log line
    # too; inside it, HEAD of every GET route answered as the GET without its body
    app.asgi_handler = RequestLogMiddleware(HeadAsGet(app.asgi_handler))
    return app
