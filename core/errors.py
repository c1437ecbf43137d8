"""One error type for the whole service; the server renders it as
``{"error": {"code", "message", "details"}}`` with its HTTP status."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorInfo(msgspec.Struct, kw_only=True):
    code: str
    message: str
    details: Any  # always sent: null when there is nothing more to say


class ErrorBody(msgspec.Struct, kw_only=True):
    error: ErrorInfo


class OpenAIErrorInfo(ErrorInfo, kw_only=True):
    """The error under ``/v1/videos``: the same, with OpenAI's ``type``
    (``invalid_request_error``, ``authentication_error``, ``rate_limit_error``,
    ``server_error``) and ``param``, the request field at fault or null."""

    type: str
    param: str | None  # always sent: null when no one field is at fault


class OpenAIErrorBody(msgspec.Struct, kw_only=True):
    error: OpenAIErrorInfo


class FabulaError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.headers = headers
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def body(self) -> ErrorBody:
        return ErrorBody(error=ErrorInfo(code=self.code, message=self.message, details=self.details))


class BadRequest(FabulaError):
    status, code = 400, "bad_request"


class Unauthorized(FabulaError):
    status, code = 401, "unauthorized"


class Forbidden(FabulaError):
    status, code = 403, "forbidden"


class NotFound(FabulaError):
    status, code = 404, "not_found"


class Conflict(FabulaError):
    status, code = 409, "conflict"


class PayloadTooLarge(FabulaError):
    status, code = 413, "payload_too_large"


class RangeNotSatisfiable(FabulaError):
    status, code = 416, "range_not_satisfiable"


class PolicyViolation(FabulaError):
    """A request refused by a policy decision (moderation, consent, quota)."""

    status, code = 422, "policy_violation"


class RateLimited(FabulaError):
    status, code = 429, "rate_limited"


class Unavailable(FabulaError):
    status, code = 503, "unavailable"


def reason_without_paths(exc: BaseException) -> str:
    """Why ``exc`` happened, for a client's error message: the OS's and FFmpeg's
    errors name the file (a server's temporary path), so their reason alone
    (``strerror``) is given."""
    return getattr(exc, "strerror", None) or str(exc)
