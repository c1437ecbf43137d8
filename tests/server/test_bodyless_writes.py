"""A write that takes no body (a like, a follow, log out everywhere) states an
empty object in the OpenAPI document and holds to it: nothing, ``{}`` or
``null`` pass; anything else is refused before the action runs, so a
malformed request changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import signup
from tests.feed.test_social import new_post

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}

REFUSED = [
    ("not JSON", b"{bad json", JSON, "malformed_json"),
    ("not UTF-8", b'{"\xff": 1}', JSON, "malformed_json"),
    ("an object with fields", b'{"liked": true}', JSON, "invalid_request"),
    ("a list", b"[]", JSON, "invalid_request"),
    ("a form", b"liked=true", FORM, "invalid_request"),
    ("no content type", b"surprise", {}, "malformed_json"),
]
ACCEPTED = [("nothing", b"", {}), ("an empty object", b"{}", JSON), ("null", b"null", JSON), ("whitespace", b"  \n", JSON)]


@pytest.mark.parametrize("name,body,headers,code", REFUSED, ids=[r[0] for r in REFUSED])
async def test_a_body_is_refused_and_nothing_happens(http, stores, name, body, headers, code):
    author, fan = await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    r = await http.post(f"/v1/posts/{post['id']}/like", content=body, headers={**fan["headers"], **headers})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert r.json()["error"]["message"], r.text
    shown = (await http.get(f"/v1/posts/{post['id']}", headers=fan["headers"])).json()
    assert shown["liked"] is False and shown["counts"]["likes"] == 0, shown
    # log out everywhere with a bad body revokes nothing
    r = await http.post("/v1/auth/logout-all", content=body, headers={**fan["headers"], **headers})
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert (await http.get("/v1/me", headers=fan["headers"])).status_code == 200


@pytest.mark.parametrize("name,body,headers", ACCEPTED, ids=[a[0] for a in ACCEPTED])
async def test_no_body_or_an_empty_one_is_taken(http, stores, name, body, headers):
    author, fan = await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    r = await http.post(f"/v1/posts/{post['id']}/like", content=body, headers={**fan["headers"], **headers})
    assert r.status_code == 200 and r.json()["liked"] is True, r.text
    r = await http.post(f"/v1/users/{author['user']['handle']}/follow", content=body, headers={**fan["headers"], **headers})
    assert r.status_code == 200 and r.json()["following"] is True, r.text


@pytest.mark.parametrize("name,body,headers,code", REFUSED, ids=[r[0] for r in REFUSED])
async def test_a_delete_is_held_to_no_body_too(http, stores, name, body, headers, code):
    """An unlike and an unfollow with a body are refused, and undo nothing."""
    author, fan = await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    assert (await http.post(f"/v1/posts/{post['id']}/like", headers=fan["headers"])).status_code == 200
    assert (await http.post(f"/v1/users/{author['user']['handle']}/follow", headers=fan["headers"])).status_code == 200
    for path in (f"/v1/posts/{post['id']}/like", f"/v1/users/{author['user']['handle']}/follow"):
        r = await http.request("DELETE", path, content=body, headers={**fan["headers"], **headers})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (path, r.text)
    shown = (await http.get(f"/v1/posts/{post['id']}", headers=fan["headers"])).json()
    assert shown["liked"] is True and shown["counts"]["likes"] == 1, shown
    followers = (await http.get(f"/v1/users/{author['user']['handle']}/followers", headers=fan["headers"])).json()["data"]
    assert fan["user"]["id"] in [f["id"] for f in followers], followers
    # with no body, or an empty one, it is done
    r = await http.request("DELETE", f"/v1/posts/{post['id']}/like", content=b"{}", headers={**fan["headers"], **JSON})
    assert r.status_code == 200 and r.json()["liked"] is False, r.text
