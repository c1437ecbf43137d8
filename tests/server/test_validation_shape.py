"""Validation errors have one shape everywhere: 400 ``invalid_request`` whose
``details`` lists each problem as ``{field, message, source}`` (the field's
path in the body, or the query or path parameter) and whose message names the
field, whether the route's body is decoded by the framework (signup, posts,
comments, profile), by the route itself (the Videos API, JSON or a form), or
the problem is in the query string."""

from __future__ import annotations

import pytest

from tests.conftest import signup
from tests.feed.test_social import new_post


def assert_invalid(r, field: str, source: str = "body") -> dict:
    assert r.status_code == 400, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "invalid_request", err
    assert isinstance(err["details"], list) and err["details"], err
    for problem in err["details"]:
        assert {"field", "message", "source"} <= set(problem), err
    first = err["details"][0]
    assert (first["field"], first["source"]) == (field, source), err
    assert err["message"].startswith(f"{field}: "), err
    assert "Validation failed for" not in err["message"] and "$." not in err["message"], err
    return err


CASES = [
    ("signup wrong type", "POST", "/v1/auth/signup", {"json": {"handle": 5, "password": "correct horse battery", "birth_date": "1990-01-01"}}, "handle", "body"),
    ("signup missing", "POST", "/v1/auth/signup", {"json": {"handle": "someone_new", "birth_date": "1990-01-01"}}, "password", "body"),
    ("profile wrong type", "PATCH", "/v1/me", {"json": {"bio": 5}}, "bio", "body"),
    ("profile bidi", "PATCH", "/v1/me", {"json": {"bio": "a\u202eb"}}, "bio", "body"),
    ("profile unknown", "PATCH", "/v1/me", {"json": {"colour": "red"}}, "colour", "body"),
    ("video wrong type", "POST", "/v1/videos", {"json": {"prompt": 5}}, "prompt", "body"),
    ("video missing", "POST", "/v1/videos", {"json": {"seconds": "4"}}, "prompt", "body"),
    ("video unknown", "POST", "/v1/videos", {"json": {"prompt": "ok", "colour": "red"}}, "colour", "body"),
    ("video nested", "POST", "/v1/videos", {"json": {"prompt": "ok", "input_reference": {"image_url": 5}}}, "input_reference.image_url", "body"),
    ("video form", "POST", "/v1/videos", {"data": {"prompt": "ok", "seed": "abc"}, "files": {}}, "seed", "body"),
    ("video prompt control", "POST", "/v1/videos", {"json": {"prompt": "a\x1bb"}}, "prompt", "body"),
    ("feed limit", "GET", "/v1/feed", {"params": {"limit": 0}}, "limit", "query"),
    ("notifications limit", "GET", "/v1/notifications", {"params": {"limit": "many"}}, "limit", "query"),
]


@pytest.mark.parametrize("name,method,path,kwargs,field,source", CASES, ids=[c[0] for c in CASES])
async def test_one_shape(http, name, method, path, kwargs, field, source):
    me = await signup(http)
    r = await http.request(method, path, headers=me["headers"], **kwargs)
    assert_invalid(r, field, source)


async def test_post_and_comment_fields(http, stores):
    me = await signup(http)
    post = await new_post(http, stores, me)
    assert_invalid(await http.patch(f"/v1/posts/{post['id']}", json={"caption": "x\x00y"}, headers=me["headers"]), "caption")
    assert_invalid(await http.patch(f"/v1/posts/{post['id']}", json={"visibility": "friends"}, headers=me["headers"]), "visibility")
    assert_invalid(await http.post(f"/v1/posts/{post['id']}/comments", json={"text": 7}, headers=me["headers"]), "text")
    assert_invalid(await http.post(f"/v1/posts/{post['id']}/view", json={"watch_ms": -1}, headers=me["headers"]), "watch_ms")
