"""The OpenAPI document states every request body: each POST, PATCH and PUT
operation has a ``requestBody`` (an optional empty object for those that
take none), and the Videos API's create, remix and extend list their fields
(``steps``, ``seed``, ``input_reference`` …) for JSON and multipart alike."""

from __future__ import annotations

import json
from typing import Annotated

import msgspec
import pytest

from core.settings import Settings
from core.text import LINE_SCHEMA, TEXT_SCHEMA
from server.app import create_app
from server.openapi import _item_rules

DOC = create_app(Settings()).openapi_schema.to_schema()
WRITES = [
    (method.upper(), path, op)
    for path, ops in DOC["paths"].items()
    for method, op in ops.items()
    if method in ("post", "patch", "put")
]


def _resolve(schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return DOC["components"]["schemas"][name]
    return schema


def test_there_are_writes_to_check():
    assert len(WRITES) > 20


@pytest.mark.parametrize("method,path,op", WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_every_write_states_its_request_body(method, path, op):
    body = op.get("requestBody")
    assert body is not None, f"{method} {path} has no requestBody"
    assert body.get("content"), f"{method} {path}: a requestBody without content"
    for media_type, content in body["content"].items():
        assert "schema" in content, (method, path, media_type)


@pytest.mark.parametrize(
    "path,fields",
    [
        ("/v1/videos", {"prompt", "model", "seconds", "size", "seed", "steps", "input_reference"}),
        ("/v1/videos/{video_id}/remix", {"prompt"}),
        ("/v1/videos/extensions", {"prompt", "seconds", "seed", "steps", "video"}),
    ],
)
def test_the_videos_api_lists_its_fields(path, fields):
    content = DOC["paths"][path]["post"]["requestBody"]["content"]
    json_fields = set(_resolve(content["application/json"]["schema"])["properties"])
    assert fields <= json_fields, (path, fields - json_fields)
    if path != "/v1/videos/{video_id}/remix":
        form_fields = set(_resolve(content["multipart/form-data"]["schema"])["properties"])
        assert fields - {"video"} <= form_fields, (path, fields - form_fields)


def test_body_less_actions_say_so():
    like = DOC["paths"]["/v1/posts/{post_id}/like"]["post"]["requestBody"]
    assert like["required"] is False
    schema = like["content"]["application/json"]["schema"]
    assert schema["type"] == "object" and schema["maxProperties"] == 0


@pytest.mark.parametrize(
    "method,path",
    [
        ("patch", "/v1/me"), ("post", "/v1/posts"), ("post", "/v1/auth/login"), ("post", "/v1/notifications/read"),
        ("post", "/v1/videos"), ("post", "/v1/videos/extensions"), ("post", "/v1/videos/{video_id}/remix"),
    ],
)
def test_a_body_that_refuses_unknown_fields_says_so(method, path):
    """These bodies answer an unknown field with 400 ``invalid_request``
    (tests/server/test_validation_shape.py): their schemas close with
    ``additionalProperties: false``, JSON and form alike."""
    for media_type, content in DOC["paths"][path][method]["requestBody"]["content"].items():
        assert _resolve(content["schema"]).get("additionalProperties") is False, (path, media_type)


def test_a_lenient_body_stays_open():
    """A Struct that takes unknown fields is not closed by the document."""
    closed = {name for name, schema in DOC["components"]["schemas"].items() if schema.get("additionalProperties") is False}
    assert "VideoObject" not in closed and "ProfilePatch" in closed


@pytest.mark.parametrize(
    "path,types,ranges",
    [
        ("/v1/videos/{video_id}/content", {"video/mp4", "image/jpeg"}, True),
        ("/v1/posts/{post_id}/content", {"video/mp4", "image/jpeg"}, True),
        ("/v1/videos/{video_id}/preview", {"image/jpeg"}, False),
    ],
)
def test_media_routes_document_what_they_send(path, types, ranges):
    responses = DOC["paths"][path]["get"]["responses"]
    assert set(responses["200"]["content"]) == types
    assert all(c["schema"] == {"type": "string", "format": "binary"} for c in responses["200"]["content"].values())
    assert ("206" in responses) is ranges
    if ranges:
        assert set(responses["206"]["content"]) == types


def test_cameo_restrictions_are_documented_unique():
    """The service refuses a restriction named twice (400); the document says
    so with ``uniqueItems``, beside the count limit."""
    restrictions = DOC["components"]["schemas"]["CameoChanges"]["properties"]["restrictions"]
    assert restrictions.get("uniqueItems") is True and restrictions.get("maxItems") == 7, restrictions
    assert "uniqueItems" not in DOC["components"]["schemas"]["CameoChanges"]["properties"]["preferences"]


def test_the_items_of_a_list_state_their_rules():
    """Litestar documents a list's items by their type alone; the service
    checks their length and characters, and the document says so."""
    [preferences] = DOC["components"]["schemas"]["CameoChanges"]["properties"]["preferences"]["oneOf"]
    item = preferences["items"]
    assert (item["minLength"], item["maxLength"], item["pattern"]) == (1, 200, LINE_SCHEMA["pattern"]), item
    assert item["description"]
    ids = DOC["components"]["schemas"]["MarkRead"]["properties"]["ids"]["oneOf"]
    [array] = [option for option in ids if option.get("type") == "array"]
    assert (array["items"]["minLength"], array["items"]["maxLength"]) == (1, 64), array
    # each list's items are its own: the restrictions' enum is not touched
    restrictions = DOC["components"]["schemas"]["CameoChanges"]["properties"]["restrictions"]
    assert "maxLength" not in json.dumps(restrictions), restrictions


@pytest.mark.parametrize(
    "schema,field,rule",
    [
        ("PublishPost", "caption", TEXT_SCHEMA), ("PostPatch", "caption", TEXT_SCHEMA), ("NewComment", "text", TEXT_SCHEMA),
        ("NewReport", "text", TEXT_SCHEMA), ("ReportAction", "note", TEXT_SCHEMA), ("ProfilePatch", "bio", TEXT_SCHEMA),
        ("ProfilePatch", "display_name", LINE_SCHEMA), ("CameoChanges", "name", LINE_SCHEMA),
    ],
)
def test_text_fields_state_the_characters_they_refuse(schema, field, rule):
    """The control and bidirectional control characters the service refuses
    (core.text) are in the document as the field's pattern."""
    assert DOC["components"]["schemas"][schema]["properties"][field].get("pattern") == rule["pattern"]


def test_prompts_and_upload_names_state_them_too():
    for path in ("/v1/videos", "/v1/videos/extensions", "/v1/videos/{video_id}/remix"):
        for media_type, content in DOC["paths"][path]["post"]["requestBody"]["content"].items():
            assert _resolve(content["schema"])["properties"]["prompt"].get("pattern") == TEXT_SCHEMA["pattern"], (path, media_type)
    for path in ("/v1/cameos", "/v1/videos/characters"):
        name = DOC["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["name"]
        assert name.get("pattern") == LINE_SCHEMA["pattern"], path


def test_the_videos_api_states_its_bounds_and_edits_has_no_success():
    """``seed`` and ``steps`` carry the bounds the service checks (a 400
    outside them); the edits route answers every call 400 ``unsupported``,
    so the document lists no success for it."""
    for path in ("/v1/videos", "/v1/videos/extensions"):
        for media_type, content in DOC["paths"][path]["post"]["requestBody"]["content"].items():
            fields = _resolve(content["schema"])["properties"]
            assert (fields["seed"]["minimum"], fields["seed"]["maximum"]) == (0, 2**32 - 1), (path, media_type)
            assert (fields["steps"]["minimum"], fields["steps"]["maximum"]) == (1, 100), (path, media_type)
    edits = DOC["paths"]["/v1/videos/edits"]["post"]["responses"]
    assert "400" in edits and not [status for status in edits if status.startswith("2")], edits


class _Opaque:
    pass


class _Odd(msgspec.Struct):
    thing: _Opaque
    names: list[str] = []


class _Plain(msgspec.Struct):
    names: list[Annotated[str, msgspec.Meta(max_length=3)]] = []


def test_a_struct_msgspec_cannot_describe_keeps_litestars_schema():
    """The items' rules come from msgspec's schema of the Struct; a Struct with
    a field msgspec has no schema for gives none (and no error), the rest do."""
    assert _item_rules(_Odd) == {}
    assert _item_rules(_Plain) == {"names": {"maxLength": 3}}


VIDEO_WRITES = ["/v1/videos", "/v1/videos/{video_id}/remix", "/v1/videos/extensions", "/v1/videos/edits"]


@pytest.mark.parametrize("path", VIDEO_WRITES)
def test_the_videos_api_states_the_urlencoded_form_it_takes(path):
    """Create, remix, extend (and the edits) read a urlencoded form as they
    read multipart, without files: the document says so."""
    content = DOC["paths"][path]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data", "application/x-www-form-urlencoded"}, path
    fields = _resolve(content["application/x-www-form-urlencoded"]["schema"]).get("properties", {})
    assert all(field.get("format") != "binary" for field in fields.values()), (path, fields)
    if path == "/v1/videos":
        assert "input_reference[image_url]" in fields
    if path == "/v1/videos/extensions":
        assert "video[id]" in fields


def _error_schema(path: str, method: str, status: str) -> dict:
    body = DOC["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return _resolve(_resolve(body)["properties"]["error"])


def test_errors_under_the_videos_api_state_openais_type_and_param():
    """Every error under /v1/videos carries ``type`` and ``param`` (server.openai_errors):
    its schema says so; the rest of the service's errors do not carry them."""
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            for status in (s for s in op.get("responses", {}) if s[0] in "45"):
                fields = _error_schema(path, method, status)["properties"]
                if path == "/v1/videos" or path.startswith("/v1/videos/"):
                    assert {"code", "message", "details", "type", "param"} <= set(fields), (method, path, status)
                else:
                    assert "type" not in fields and "param" not in fields, (method, path, status)


def test_a_characters_name_states_its_length():
    content = DOC["paths"]["/v1/videos/characters"]["post"]["requestBody"]["content"]["multipart/form-data"]
    name = _resolve(content["schema"])["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (1, 50)


def test_every_route_states_the_503_of_an_outage():
    """Any route that reads Mongo or Redis answers 503 ``unavailable`` while they do not answer."""
    for path, ops in DOC["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, op in ops.items():
            assert "503" in op.get("responses", {}), (method, path)
