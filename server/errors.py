"""Every 4xx/5xx leaves as ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from core.errors import ErrorBody, ErrorInfo, FabulaError

log = logging.getLogger("fabula.server")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_response(status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None) -> Response:
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=details))
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _fabula_error(_: Request, exc: FabulaError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _http_exception(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        # Litestar reports validation problems as 400 with a list in `extra`.
        return error_response(400, "invalid_request", _first_line(exc.detail) or "invalid request", exc.extra or None)
    headers = dict(exc.headers or {})
    details = exc.extra if exc.extra else None
    message = exc.detail or _CODES.get(status, "error").replace("_", " ")
    if status >= 500:
        log.error("http error", extra={"status": status, "detail": exc.detail})
        message = "internal error"
        details = None
    return error_response(status, _CODES.get(status, "error"), message, details, headers or None)


def _unhandled(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal_error", "internal error")


def _first_line(text: str | None) -> str:
    return (text or "").splitlines()[0] if text else ""


EXCEPTION_HANDLERS = {
    FabulaError: _fabula_error,
    HTTPException: _http_exception,
    Exception: _unhandled,
}
