"""Request bodies that arrive as JSON or as forms (the OpenAI SDK sends
multipart/form-data), decoded into one msgspec Struct either way.

Form fields named like ``video[id]`` (how the OpenAI SDK flattens nested
objects into a form) become nested objects, ``{"video": {"id": …}}``.
A route that takes file uploads opts out of the app-wide body limit
(``request_max_body_size=None``) and passes its own ``max_bytes`` here:
JSON stays within ``max_body_bytes``, forms may also carry the upload."""

from __future__ import annotations

from typing import Any, TypeVar

import re

import msgspec
from litestar import Request

from core.errors import BadRequest, FabulaError, PayloadTooLarge
from core.json_errors import http_message
from server.errors import field_problem, invalid_request_message

T = TypeVar("T")

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def validation_error(exc: msgspec.ValidationError) -> BadRequest:
    """msgspec's error in the one validation shape (``server.errors.field_problem``)."""
    return invalid_field(field_problem(str(exc)))


def invalid_field(problem: dict) -> BadRequest:
    return BadRequest(invalid_request_message([problem]), code="invalid_request", details=[problem])


def field_error(field: str, message: str) -> BadRequest:
    return invalid_field({"field": field, "message": message, "source": "body"})


_NESTED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[([A-Za-z_][A-Za-z0-9_]*)\]$")


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {limit} bytes", code="payload_too_large", details={"limit": limit})


def limit_body(request: Request, limit: int) -> None:
    """Refuse (413) a body longer than ``limit`` bytes, by its Content-Length
    or, failing that, while it is read."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    receive, seen = request.receive, 0

    async def limited() -> Any:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body") or b"")
            if seen > limit:
                raise _too_large(limit)
        return message

    request.receive = limited


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        match = _NESTED.match(key)
        if match is None:
            if isinstance(out.get(key), dict):
                raise field_error(key, "given both as a value and as an object")
            out[key] = value
            continue
        outer, inner = match.groups()
        holder = out.setdefault(outer, {})
        if not isinstance(holder, dict):
            raise field_error(outer, "given both as a value and as an object")
        holder[inner] = value
    return out


def _decode_json(raw: bytes, kind: Any) -> Any:
    """``raw`` as ``kind``: 400 ``malformed_json`` when it is not JSON, ``invalid_request`` when it is not a ``kind``."""
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(http_message(exc, raw), code="malformed_json") from None
    except UnicodeDecodeError:  # msgspec's answer to bytes that are not UTF-8 inside a string
        raise BadRequest("malformed JSON: the body is not valid UTF-8", code="malformed_json") from None


async def decode_json_or_form(
    request: Request,
    kind: type[T],
    *,
    files: tuple[str, ...] = (),
    max_bytes: int | None = None,
    max_form_bytes: int | None = None,
) -> tuple[T, dict[str, Any]]:
    """The body as ``kind``; also returns uploaded files (only the field names in ``files``).

    ``max_bytes`` / ``max_form_bytes``: limits for JSON and form bodies where
    the route has no limit of its own."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    uploads: dict[str, Any] = {}
    limit = max_form_bytes if content_type in FORM_TYPES else max_bytes
    if limit is not None:
        limit_body(request, limit)
    if content_type in ("application/json", ""):
        raw = await request.body()
        if not raw:
            raise invalid_field({"field": None, "message": "the request body is empty; send a JSON object", "source": "body"})
        return _decode_json(raw, kind), uploads
    if content_type in FORM_TYPES:
        try:
            form = await request.form()
        except FabulaError:
            raise
        except Exception as exc:  # a broken multipart body
            raise BadRequest(f"malformed form body: {exc}", code="malformed_form") from None
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                if key not in files:
                    raise field_error(key, "is not a file field")
                if key in uploads:
                    raise field_error(key, "file given more than once")
                uploads[key] = value
            elif key in fields:
                raise field_error(key, "given more than once")
            else:
                fields[key] = value
        try:
            return msgspec.convert(_nest(fields), kind, strict=False), uploads
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None
    raise FabulaError(
        f"unsupported content type {content_type!r}; send application/json, multipart/form-data or application/x-www-form-urlencoded",
        code="unsupported_media_type",
        status=415,
    )


async def refuse_a_body(request: Request) -> None:
    """The ``before_request`` of a write that takes no body (``server.openapi.declare_request_bodies``):
    nothing, ``{}`` or ``null`` pass; a body that is not JSON is 400 ``malformed_json``, any other
    body 400 ``invalid_request``, before the action runs, as the OpenAPI document states it
    (an empty object)."""
    raw = (await request.body()).strip()
    if not raw:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in FORM_TYPES:
        raise field_error("", "this action takes no request body: send none, or {}")
    value = _decode_json(raw, Any)
    if value is None or value == {}:
        return None
    raise field_error("", "this action takes no request body: send none, or {}")
