"""The OpenAPI document states every request body: each POST, PATCH and PUT
operation has a ``requestBody`` (an optional empty object for those that
take none), and the Videos API's create, remix and extend list their fields
(``steps``, ``seed``, ``input_reference`` …) for JSON and multipart alike."""

from __future__ import annotations

import pytest

from core.settings import Settings
from server.app import create_app

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
