"""OpenAPI helpers: every status a route can return is declared on it, and
every write states its request body (``body_operation`` for a route that
decodes its body itself, ``declare_request_bodies`` for those that take none)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, replace

import msgspec

from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody, Schema
from litestar.typing import FieldDefinition

from core.errors import ErrorBody, OpenAIErrorBody
from server.body import refuse_a_body

_DESCRIPTIONS = {
    400: "Malformed or invalid request",
    401: "Missing, invalid or revoked token",
    403: "Not allowed",
    404: "No such resource",
    409: "Conflicts with existing state",
    413: "Request body too large",
    415: "Unsupported content type",
    416: "Range not satisfiable",
    422: "Refused by policy",
    429: "Rate limited",
    503: "A backing service is unavailable",
}

# Statuses any route can produce: bad input, an oversized body, Mongo or Redis not answering (server.errors).
COMMON = (400, 413, 503)


# the JSON Schema keys a field's Meta adds that Litestar leaves out, as its Schema names them
_SCHEMA_KEYS = {"uniqueItems": "unique_items", "pattern": "pattern"}
# the keys of a list's items that Litestar leaves out (it keeps only their type)
_ITEM_KEYS = {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern", "description": "description"}


@functools.cache
def _item_rules(struct_type: type) -> dict[str, dict]:
    """A Struct's list fields (by their JSON names) and the rules of their
    items, as msgspec's own JSON Schema states them (none for a Struct that
    msgspec cannot describe: Litestar's own schema is kept as it is)."""
    try:
        found = msgspec.json.schema(struct_type)
    except TypeError:  # a field of a type msgspec has no schema for
        return {}
    own = found["$defs"][found["$ref"].rsplit("/", 1)[-1]]
    rules = {}
    for name, prop in own.get("properties", {}).items():
        for option in (prop, *prop.get("anyOf", ())):  # ``anyOf``: a list or null
            if isinstance(option.get("items"), dict):
                rules[name] = {key: value for key, value in option["items"].items() if key in _ITEM_KEYS}
    return rules


def _array(prop: Schema) -> Schema | None:
    """The array schema of a property (itself, or the one ``oneOf`` Litestar wraps it in)."""
    for option in (prop, *(prop.one_of or ())):
        if isinstance(option, Schema) and isinstance(option.items, Schema):
            return option
    return None


def _extra_schema(field_type: msgspec.inspect.Type) -> dict:
    """The ``Meta(extra_json_schema=...)`` of a field's type (through ``| UNSET``)."""
    found: dict = {}
    for kind in getattr(field_type, "types", (field_type,)):
        if isinstance(kind, msgspec.inspect.Metadata) and kind.extra_json_schema:
            found.update(kind.extra_json_schema)
    return found


class StructSchemas(StructSchemaPlugin):
    """msgspec Structs documented as Litestar documents them, plus
    ``additionalProperties: false`` for those that refuse unknown fields
    (``forbid_unknown_fields``), as the service then does (400
    ``invalid_request``), the keys a field's ``Meta(extra_json_schema=...)``
    adds (``uniqueItems``, ``pattern``: rules its Struct checks), and the
    length, pattern and description of a list's items. Litestar's own plugin
    leaves all three out (litestar 2.x)."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if getattr(info, "forbid_unknown_fields", False):
            schema.additional_properties = False
        for field in getattr(info, "fields", ()):
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema):
                for key, value in _extra_schema(field.type).items():
                    if key in _SCHEMA_KEYS:
                        setattr(prop, _SCHEMA_KEYS[key], value)
        if isinstance(info, msgspec.inspect.StructType):
            for name, rules in _item_rules(info.cls).items():
                array = _array(schema.properties.get(name)) if schema.properties and rules else None
                if array is not None:  # a copy: Litestar may share one items schema between fields
                    array.items = replace(array.items, **{_ITEM_KEYS[key]: value for key, value in rules.items()})
        return schema


def errors(*statuses: int, body: type = ErrorBody) -> dict[int, ResponseSpec]:
    """Response specs for the error statuses a route can return (plus the common ones)."""
    return {
        status: ResponseSpec(data_container=body, description=_DESCRIPTIONS.get(status, "Error"), generate_examples=False)
        for status in sorted({*COMMON, *statuses})
    }


def openai_errors(*statuses: int) -> dict[int, ResponseSpec]:
    """``errors`` for a route under ``/v1/videos``, whose error body also carries
    OpenAI's ``type`` and ``param`` (``server.openai_errors``)."""
    return errors(*statuses, body=OpenAIErrorBody)


def body_operation(
    content: dict[str, Schema], *, required: bool = True, description: str | None = None, refused_only: bool = False
) -> type[Operation]:
    """An operation class whose request body is ``content`` (media type → schema):
    for a route that reads its body itself (JSON or a form), which Litestar cannot see.
    ``refused_only``: the route answers every call with an error, so the
    document lists no success (Litestar adds one for every handler)."""

    @dataclass
    class BodyOperation(Operation):
        # a dataclass again, so that its __init__ calls __post_init__ (Operation's does not)
        def __post_init__(self) -> None:
            if refused_only and self.responses:
                self.responses = {status: spec for status, spec in self.responses.items() if not status.startswith("2")}
            self.request_body = RequestBody(
                required=required,
                description=description,
                content={media_type: OpenAPIMediaType(schema=schema) for media_type, schema in content.items()},
            )

    return BodyOperation


def media_operation(*media_types: str, ranges: bool = True) -> type[Operation]:
    """An operation class whose 200 is a file of one of ``media_types`` (and,
    with ``ranges``, whose 206 is a part of one): for a route that answers
    media, which Litestar would document as JSON."""
    binary = Schema(type="string", format="binary")

    @dataclass
    class MediaOperation(Operation):
        def __post_init__(self) -> None:
            content = {media_type: OpenAPIMediaType(schema=binary) for media_type in media_types}
            whole = self.responses.get("200") if self.responses else None
            if isinstance(whole, OpenAPIResponse):
                whole.content = content
            if ranges and self.responses is not None:
                self.responses["206"] = OpenAPIResponse(
                    description="Part of the file: the byte range a Range header asked for (Content-Range says which)", content=content
                )

    return MediaOperation


# the body of a write that takes none: nothing, or an empty JSON object
NoBodyOperation = body_operation(
    {"application/json": Schema(type="object", max_properties=0, description="no fields: send no body (or {})")},
    required=False,
    description="This action takes no request body.",
)
WRITES = {"POST", "PATCH", "PUT"}


def declare_request_bodies(handlers: list) -> None:
    """Give every POST, PATCH and PUT handler that neither takes ``data`` nor
    states its body (``operation_class``) the empty body, so that the OpenAPI
    document states a request body for every write, and hold it to that: any
    other body is refused before the action runs (``server.body.refuse_a_body``).
    A DELETE that takes no ``data`` is held to it too (the document gives a
    DELETE no body: it takes none)."""
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        if set(handler.http_methods) == {"DELETE"}:
            if "data" not in inspect.signature(handler.fn).parameters and handler.before_request is None:
                handler.before_request = refuse_a_body
            continue
        if not (set(handler.http_methods) & WRITES):
            continue
        if handler.operation_class is not Operation:
            continue
        if "data" in inspect.signature(handler.fn).parameters:
            continue
        handler.operation_class = NoBodyOperation
        handler.before_request = refuse_a_body
