"""Request bodies that arrive as JSON or as forms (the OpenAI SDK sends
multipart/form-data), decoded into one msgspec Struct either way."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from core.errors import BadRequest, FabulaError

T = TypeVar("T")

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def validation_error(exc: msgspec.ValidationError) -> BadRequest:
    return BadRequest(str(exc), code="invalid_request")


async def decode_json_or_form(request: Request, kind: type[T], *, files: tuple[str, ...] = ()) -> tuple[T, dict[str, Any]]:
    """The body as ``kind``; also returns uploaded files (only the field names in ``files``)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    uploads: dict[str, Any] = {}
    if content_type in ("application/json", ""):
        raw = await request.body()
        if not raw:
            raise BadRequest("the request body is empty", code="invalid_request")
        try:
            return msgspec.json.decode(raw, type=kind), uploads
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None
        except msgspec.DecodeError as exc:
            raise BadRequest(f"malformed JSON: {exc}", code="malformed_json") from None
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
                    raise BadRequest(f"unexpected file field {key!r}", code="invalid_request")
                uploads[key] = value
            elif key in fields:
                raise BadRequest(f"field {key!r} given more than once", code="invalid_request")
            else:
                fields[key] = value
        try:
            return msgspec.convert(fields, kind, strict=False), uploads
        except msgspec.ValidationError as exc:
            raise validation_error(exc) from None
    raise FabulaError(
        f"unsupported content type {content_type!r}; send application/json or multipart/form-data",
        code="unsupported_media_type",
        status=415,
    )
