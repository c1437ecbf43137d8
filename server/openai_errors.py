"""OpenAI's error shape for the routes that stand in for OpenAI's API.

The OpenAI SDK reads ``error.message``, ``error.type``, ``error.param`` and
``error.code`` from an error body and picks its exception class from the
status (400 ``BadRequestError``, 404 ``NotFoundError``, 422
``UnprocessableEntityError`` …). The service's own body is ``{"error":
{"code", "message", "details"}}`` (``server.errors``). Under ``/v1/videos`` the app's handlers
(``APP_ERROR_HANDLERS``) answer the same body with ``type`` and ``param``
added, so both kinds of client read it: the routes' own errors, the
authentication's and the router's 404 and 405 alike."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from server.errors import EXCEPTION_HANDLERS

# the request field an error code is about, when the code says it
PARAMS = {
    "invalid_size": "size",
    "invalid_seconds": "seconds",
    "invalid_model": "model",
    "invalid_reference": "input_reference",
    "invalid_video": "video",  # an extension's upload
    "invalid_name": "name",  # a character's
    "cameo_exists": "name",  # a character's name taken
}


def error_type(status: int) -> str:
    """OpenAI's ``type`` for a status."""
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def _param(code: str, details: Any) -> str | None:
    """The field an error is about: the code's, or the one its details name
    (``unsupported`` names one where a field asked for what is not served)."""
    if code in PARAMS:
        return PARAMS[code]
    problems = details if isinstance(details, list) else [details]
    for problem in problems:
        if isinstance(problem, dict):
            for key in ("param", "field", "path", "key"):
                value = problem.get(key)
                if isinstance(value, str) and value:
                    return value.removeprefix("$.")
    return None


def openai_shaped(response: Response) -> Response:
    """``response`` (an error from ``server.errors``) with OpenAI's ``type`` and ``param`` added."""
    try:
        body = msgspec.json.decode(response.content)
        error = body["error"]
    except (msgspec.DecodeError, TypeError, KeyError):
        return response
    if not isinstance(error, dict):
        return response
    error.setdefault("type", error_type(response.status_code))
    error.setdefault("param", _param(str(error.get("code") or ""), error.get("details")))
    response.content = msgspec.json.encode(body)
    return response


def is_videos_path(path: str) -> bool:
    """Whether ``path`` is under the Videos API (``/v1/videos`` and below)."""
    return path == "/v1/videos" or path.startswith("/v1/videos/")


def _wrap_by_path(handler):
    def handle(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        return openai_shaped(response) if is_videos_path(request.url.path) else response

    return handle


# the app's own handlers: every error answer comes from here (the routers' 404 for a path no
# route matches and 405 for a method a route does not take included); under /v1/videos it is
# OpenAI-shaped
APP_ERROR_HANDLERS = {kind: _wrap_by_path(handler) for kind, handler in EXCEPTION_HANDLERS.items()}
