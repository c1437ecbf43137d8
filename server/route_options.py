"""The ``OPTIONS`` answer of a path whose methods come from several handlers.

Litestar makes a path's ``OPTIONS`` handler when the first handler of the
path is registered, and keeps it when more handlers join the path: that
handler's ``Allow`` then names the first handler's methods alone (``GET``
and ``PATCH /v1/me`` are two functions, and ``Allow`` said ``DELETE,
OPTIONS``; Litestar 2.x). ``options_handlers`` makes one ``OPTIONS`` handler
for each such path from the whole list of handlers, to be registered before
them, so that Litestar makes none and ``Allow`` names every method."""

from __future__ import annotations

from litestar import Response
from litestar.enums import HttpMethod, MediaType
from litestar.handlers import HTTPRouteHandler


def _options(path: str, allow: str) -> HTTPRouteHandler:
    def options_answer() -> Response:
        return Response(content=None, status_code=204, headers={"Allow": allow}, media_type=MediaType.TEXT)

    return HTTPRouteHandler(path=path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, sync_to_thread=False)(options_answer)


def options_handlers(handlers: list) -> list[HTTPRouteHandler]:
    """An ``OPTIONS`` handler for every path that two or more of ``handlers`` serve."""
    methods: dict[str, set[str]] = {}
    count: dict[str, int] = {}
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        for path in handler.paths:
            methods.setdefault(path, set()).update(handler.http_methods)
            count[path] = count.get(path, 0) + 1
    return [
        _options(path, ", ".join(sorted(found | {"OPTIONS"})))
        for path, found in methods.items()
        if count[path] > 1 and "OPTIONS" not in found
    ]
