"""A browser that asks for a page the app does not have gets the app itself,
with status 404, which shows its own "not found" screen and a way home; an
API client (or anything not asking for HTML) gets the JSON error body as
from every other route."""

from __future__ import annotations

from litestar import Request, Response

from server.routes.app import render_page

# paths of the API and of the service's own surface: never a page
NOT_PAGES = ("/v1/", "/app/", "/schema", "/metrics", "/healthz", "/readyz", "/ws", "/verify/")


def wants_page(request: Request) -> bool:
    """A browser's navigation: GET or HEAD of a path outside the API, asking for HTML."""
    path = request.url.path
    if request.method not in ("GET", "HEAD") or path == "/v1" or path.startswith(NOT_PAGES):
        return False
    return "text/html" in request.headers.get("accept", "")


def or_app_page(handler):
    """``handler`` (the JSON error body's) for a 404, unless a browser asked for a page."""

    def handle(request: Request, exc: Exception) -> Response:
        if wants_page(request):
            return render_page(request, request.app.state.settings, title="Not found · Fabula", status=404)
        return handler(request, exc)

    return handle
