"""``HEAD`` of a ``GET`` route is the ``GET``'s answer without its body
(server.head_requests): the same status, checks and headers, over a real
api and real sockets."""

from __future__ import annotations

from core.media_store import open_media_store
from tests.conftest import signup
from tests.feed.test_social import new_post

MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 64


async def _media_post(http, stores, settings, me, caption="head"):
    post = await new_post(http, stores, me, caption=caption)
    await open_media_store(settings).put_bytes(post["video_id"], "video", MP4)
    return post


async def test_head_of_media_gives_the_gets_headers_and_no_body(http, stores, settings):
    me = await signup(http)
    post = await _media_post(http, stores, settings, me)
    for url in (post["content_url"], f"/v1/videos/{post['video_id']}/content"):
        got = await http.get(url, headers=me["headers"])
        head = await http.head(url, headers=me["headers"])
        assert got.status_code == head.status_code == 200, (url, got.status_code, head.status_code)
        assert head.content == b"" and got.content == MP4
        assert head.headers["content-length"] == str(len(MP4)) == got.headers["content-length"]
        assert head.headers["content-type"] == got.headers["content-type"] == "video/mp4"
        part = await http.head(url, headers={**me["headers"], "Range": "bytes=4-11"})
        assert part.status_code == 206 and part.content == b""
        assert part.headers["content-range"] == f"bytes 4-11/{len(MP4)}" and part.headers["content-length"] == "8"


async def test_head_of_json_routes_keeps_status_and_length(http):
    me = await signup(http)
    got = await http.get("/v1/me", headers=me["headers"])
    head = await http.head("/v1/me", headers=me["headers"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("application/json")
    assert int(head.headers["content-length"]) == len(got.content)
    assert head.headers["x-request-id"] and head.headers["x-request-id"] != got.headers["x-request-id"]


async def test_head_runs_the_gets_checks(http, stores, settings):
    """No token: 401; another user's video: the GET's 404; an unknown id: 404;
    each with an empty body and the error body's length."""
    me, other = await signup(http), await signup(http)
    theirs = await _media_post(http, stores, settings, other, caption="not mine")
    anonymous = await http.head("/v1/me")
    assert anonymous.status_code == 401 and anonymous.content == b""
    for url in (f"/v1/videos/{theirs['video_id']}/content", "/v1/videos/video_nosuchthing/content", "/v1/posts/post_nope"):
        got = await http.get(url, headers=me["headers"])
        head = await http.head(url, headers=me["headers"])
        assert got.status_code == head.status_code and got.status_code in (403, 404), (url, got.status_code, head.status_code)
        assert head.content == b"" and int(head.headers["content-length"]) == len(got.content)


async def test_head_of_a_route_without_get_is_405(http):
    r = await http.head("/v1/auth/login")
    assert r.status_code == 405 and r.content == b""
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    assert "POST" in allowed and "GET" not in allowed and "HEAD" not in allowed


async def test_allow_names_head_beside_get(http):
    me = await signup(http)
    for path, methods in (("/v1/me", {"GET", "PATCH", "DELETE"}), ("/v1/feed", {"GET"})):
        r = await http.options(path, headers=me["headers"])
        allowed = {m.strip() for m in r.headers["allow"].split(",")}
        assert allowed >= methods | {"HEAD", "OPTIONS"}, (path, allowed)
    wrong = await http.put("/v1/feed", headers=me["headers"])
    assert wrong.status_code == 405 and "HEAD" in wrong.headers["allow"]


async def test_every_documented_get_answers_head_as_it_answers_get(http):
    """Each GET path of the OpenAPI document, signed in, with ids nobody has:
    HEAD gives the GET's status and no body, and an error's length (a page of
    the feed or of search may differ from one call to the next)."""
    from tests.server.test_surface import OFFLINE_DOC, _fill

    me = await signup(http)
    wrong = []
    paths = [path for path, ops in OFFLINE_DOC["paths"].items() if "get" in ops and not path.startswith("/schema")]
    for path in paths:
        url = _fill(path, "abc")
        got = await http.get(url, headers=me["headers"])
        head = await http.head(url, headers=me["headers"])
        same_length = got.status_code < 400 or head.headers.get("content-length") == got.headers.get("content-length")
        if head.status_code != got.status_code or head.content or not same_length or got.status_code >= 500:
            wrong.append((path, got.status_code, head.status_code, len(head.content)))
    assert not wrong, wrong
    assert len(paths) > 30
