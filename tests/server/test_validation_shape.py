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
    ("form field twice", "POST", "/v1/videos", {"data": {"prompt": ["a cat", "a dog"]}, "files": {"input_reference": ("r.png", b"x", "image/png")}}, "prompt", "body"),
    ("form file unknown", "POST", "/v1/videos", {"data": {"prompt": "a cat"}, "files": {"poster": ("p.png", b"x", "image/png")}}, "poster", "body"),
    ("extension without a video", "POST", "/v1/videos/extensions", {"data": {"prompt": "and on"}, "files": {}}, "video", "body"),
    ("cameo blank name", "POST", "/v1/cameos", {"data": {"name": "   ", "challenge_id": "chal_x"}, "files": {"video": ("me.mp4", b"x", "video/mp4")}}, "name", "body"),
    ("cameo without challenge", "POST", "/v1/cameos", {"data": {"name": "me"}, "files": {"video": ("me.mp4", b"x", "video/mp4")}}, "challenge_id", "body"),
    ("character without video", "POST", "/v1/videos/characters", {"data": {"name": "rex"}, "files": {"clip": ("c.mp4", b"x", "video/mp4")}}, "clip", "body"),
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


async def test_a_message_that_quotes_a_pattern_comes_whole(http):
    """A field's message is given as it was made: the query strings taken out of
    Litestar's own message must not take a pattern's ``?`` with them."""
    me = await signup(http)
    err = assert_invalid(await http.patch("/v1/me", json={"avatar_url": "javascript:alert(1)"}, headers=me["headers"]), "avatar_url")
    assert err["details"][0]["message"] == "Expected `str` matching regex '^(https?://[!-~]+)?$'", err
    assert err["message"] == "avatar_url: Expected `str` matching regex '^(https?://[!-~]+)?$'", err


async def test_outside_the_videos_api_a_spelled_or_zero_one_boolean_is_read(http):
    """docs/API.md: a string that spells a boolean, and the numbers 0 and 1, are
    read as booleans; any other number is refused."""
    me = await signup(http)
    for sent, read in (("true", True), (0, False), (1, True), ("false", False)):
        r = await http.patch("/v1/me", json={"private": sent}, headers=me["headers"])
        assert r.status_code == 200 and r.json()["private"] is read, (sent, r.text)
    assert_invalid(await http.patch("/v1/me", json={"private": 2}, headers=me["headers"]), "private")
    assert_invalid(await http.patch("/v1/me", json={"private": "yes"}, headers=me["headers"]), "private")
