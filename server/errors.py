"""Every 4xx/5xx leaves as ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.utils.scope.state import ScopeState
from pymongo.errors import ConnectionFailure as MongoUnreachable
from redis.exceptions import ConnectionError as RedisUnreachable
from redis.exceptions import TimeoutError as RedisTimeout

from core.errors import ErrorBody, ErrorInfo, FabulaError
from core.json_errors import http_message

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


MESSAGE_MAX = 1000  # characters: a message that quotes what was sent (an id in the path) quotes a part


def error_response(status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None) -> Response:
    if len(message) > MESSAGE_MAX:
        message = message[: MESSAGE_MAX - 1] + "…"
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=details))
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


# how soon a client may try again after a 503
RETRY_AFTER_S = "1"
# Mongo or Redis not answering: a 503 over HTTP, an ``unavailable`` error on the socket
BACKING_DOWN: tuple[type[Exception], ...] = (MongoUnreachable, RedisUnreachable, RedisTimeout)
UNAVAILABLE_MESSAGE = "a backing service is unavailable; try again shortly"


def _fabula_error(_: Request, exc: FabulaError) -> Response:
    headers = exc.headers
    if exc.status == 503 and not any(k.lower() == "retry-after" for k in headers or {}):
        headers = {**(headers or {}), "Retry-After": RETRY_AFTER_S}
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


def _backing_down(request: Request, exc: Exception) -> Response:
    # Mongo or Redis does not answer (restarting, unreachable): nothing the
    # client did wrong, and worth another try in a moment
    log.warning("backing service unavailable", extra={"path": request.url.path, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return error_response(503, "unavailable", UNAVAILABLE_MESSAGE, headers={"Retry-After": RETRY_AFTER_S})


def _body_limit(request: Request) -> int | None:
    """The body limit of the route that refused a body as too large (Litestar's own check)."""
    try:
        limit = request.scope["route_handler"].resolve_request_max_body_size()
    except Exception:  # no route (refused before routing) or no limit: the answer goes without it
        return None
    return limit if isinstance(limit, int) else None


def _read_body(request: Request) -> bytes | None:
    """The body Litestar read for this request, if it read one."""
    body = ScopeState.from_scope(request.scope).body
    return body if isinstance(body, bytes) else None


def _http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        return _validation_error(request, exc)
    headers = dict(exc.headers or {})
    details = exc.extra if exc.extra else None
    message = _without_query(exc.detail) or _CODES.get(status, "error").replace("_", " ")
    if status == 413 and details is None and (limit := _body_limit(request)) is not None:
        details, message = {"limit": limit}, f"the request body is larger than {limit} bytes"
    if isinstance(exc.__cause__, SerializationException):  # a body that does not decode
        return error_response(400, "malformed_json", http_message(message, _read_body(request)))
    if status == 500 and message == CLIENT_GONE:  # the client hung up while sending its body: nobody reads the answer
        log.info("client disconnected before its body was read")
        return error_response(400, "bad_request", "the request body ended early")
    if status >= 500:
        log.error("http error", extra={"status": status, "detail": _without_query(exc.detail)})
        message = "internal error"
        details = None
    return error_response(status, _CODES.get(status, "error"), message, details, headers or None)


def _recursion(request: Request, exc: RecursionError) -> Response:
    # Litestar decodes JSON bodies with msgspec, which gives up on very deep
    # nesting with a RecursionError rather than a DecodeError: that is bad input.
    if "deserializing" in str(exc):
        return error_response(400, "malformed_json", "malformed JSON: nested too deeply")
    return _unhandled(request, exc)


def _from_body_decoding(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while Litestar decoded a JSON body (its
    ``decode_json``), not by the service's own code."""
    frame = exc.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_name == "decode_json":
            return True
        frame = frame.tb_next
    return False


def _not_utf8(request: Request, exc: UnicodeDecodeError) -> Response:
    # msgspec reads a JSON string holding bytes that are not UTF-8 (b'"\xff"') as a
    # UnicodeDecodeError, not a DecodeError, and Litestar lets it through: bad input too
    if _from_body_decoding(exc):
        return error_response(400, "malformed_json", "malformed JSON: the body is not valid UTF-8")
    return _unhandled(request, exc)


def _unhandled(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal_error", "internal error")


def _first_line(text: str | None) -> str:
    return (text or "").splitlines()[0] if text else ""


# Litestar names the URL in its messages ("Validation failed for GET /x?a=b");
# a query string can carry a secret (a WebSocket ``?token=``), so it never
# reaches an error body or a log line.
_QUERY = re.compile(r"\?[^\s]*")
EMPTY_BODY = "the request body is empty; send a JSON object"
CLIENT_GONE = "client disconnected prematurely"  # Litestar's words (a 500) for a body cut short


def _without_query(text: str | None) -> str:
    return _QUERY.sub("", _first_line(text))


def _is_empty_body(problem: Any) -> bool:
    # With no body at all Litestar cannot even look up ``data`` and reports
    # the bare KeyError text "'data'".
    return isinstance(problem, dict) and problem.get("key") == "data" and problem.get("message") == "'data'"


# --- validation errors: one shape ------------------------------------------------
#
# Every validation error is 400 ``invalid_request`` with ``details`` a list of
# problems ``{field, message, source}``: ``field`` the path of the field in the
# body (``input_reference.image_url``, ``items[2]``) or the name of the query or
# path parameter (None when the problem is the whole body), ``source`` one of
# body, query, path, header; the message names the fields ("prompt: Expected
# `str`, got `int`"). Litestar's own (routes taking ``data``, parameters) and
# msgspec's (routes decoding their body themselves, ``server.body``) alike.

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"(?:missing required field|contains unknown field) `(?P<name>[^`]+)`")
_FIELD_FIRST = re.compile(r"^(?P<field>[A-Za-z_][\w.\[\]]*): (?P<message>.+)$", re.S)  # "caption: must not ..." (core.text)


def field_problem(message: str, path: str = "", source: str = "body") -> dict[str, Any]:
    """One problem ``{field, message, source}`` from a validation message
    (msgspec's "... - at `$.a.b`", "Object missing required field `x`", or a
    check's "field: ...") and the path known beside it."""
    found = _AT.match(message)
    text, at = (found["message"], found["path"] or "") if found else (message, "")
    field = (path or at).lstrip(".")
    named = _NAMED.search(text)
    first = None if named else _FIELD_FIRST.match(text)
    if named:
        field = f"{field}.{named['name']}" if field else named["name"]
    elif first:
        field = f"{field}.{first['field']}" if field else first["field"]
        text = first["message"]
    return {"field": field or None, "message": text, "source": source}


def invalid_request_message(problems: list[dict[str, Any]]) -> str:
    parts = [f"{p['field']}: {p['message']}" if p.get("field") else str(p.get("message")) for p in problems[:3]]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(parts) + more if parts else "invalid request"


def invalid_request(problems: list[dict[str, Any]]) -> Response:
    return error_response(400, "invalid_request", invalid_request_message(problems), problems)


def _client_name(request: Request, key: str) -> str:
    """The name a client gives a query parameter that Litestar reports by the
    handler's own name for it (one declared ``QueryParameter(name="state")``,
    its Python name being taken)."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:  # no handler resolved: the key is all there is
        return key
    name = getattr(getattr(parameter, "kwarg_definition", None), "name", None)
    return name if isinstance(name, str) and name else key


def _validation_error(request: Request, exc: ValidationException) -> Response:
    """Litestar's validation problems (``{message, key, source}``) in the one shape."""
    raw = exc.extra if isinstance(exc.extra, list) else []
    if any(_is_empty_body(p) for p in raw):
        return invalid_request([{"field": None, "message": EMPTY_BODY, "source": "body"}])
    problems = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        source = str(getattr(item.get("source"), "value", item.get("source")) or "body")  # (Litestar's ParamType for parameters)
        if source == "query" and key:
            key = _client_name(request, key)
        problems.append(field_problem(_first_line(str(item.get("message") or "")), "" if key == "data" else key, source))
    if not problems:
        problems = [{"field": None, "message": _without_query(exc.detail) or "invalid request", "source": "body"}]
    return invalid_request(problems)


EXCEPTION_HANDLERS = {
    FabulaError: _fabula_error,
    HTTPException: _http_exception,
    RecursionError: _recursion,
    UnicodeDecodeError: _not_utf8,
    MongoUnreachable: _backing_down,
    RedisUnreachable: _backing_down,
    RedisTimeout: _backing_down,
    Exception: _unhandled,
}
