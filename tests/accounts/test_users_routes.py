"""Profiles, follows, followers/following lists and blocks over HTTP."""

from __future__ import annotations

import datetime
import uuid

import httpx
import pytest
from litestar import Litestar, WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from ulid import ULID

from core.errors import Unauthorized
from core.stores import open_stores
from server.auth import token_from_scope
from tests.conftest import signup
from tests.accounts.test_auth_routes import BAD_AUTH, BIG, assert_error


def public(me: dict) -> dict:
    """A user as others see them: the owner's view less the birth date and the minor flag."""
    return {k: v for k, v in me.items() if k not in ("birth_date", "minor")}


async def snapshot(stores) -> tuple:
    db = stores.db
    return (
        await db.users.count_documents({}),
        await db.tokens.count_documents({}),
        await db.follows.count_documents({}),
        await db.blocks.count_documents({}),
    )


async def profile(http, viewer: dict, handle: str) -> httpx.Response:
    return await http.get(f"/v1/users/{handle}", headers=viewer["headers"])


async def counts(http, viewer: dict, handle: str) -> tuple[int, int]:
    body = (await profile(http, viewer, handle)).json()
    return body["followers"], body["following"]


async def walk(http, viewer: dict, path: str, limit: int) -> list[list[str]]:
    """Every page of a list, as lists of handles."""
    pages, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        r = await http.get(path, params=params, headers=viewer["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"data", "next_cursor"}
        pages.append([u["handle"] for u in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "cursor never ends"


# --- profiles ---------------------------------------------------------------


async def test_profile_by_handle_ignores_case(http):
    a, b = await signup(http), await signup(http, "Pro_" + uuid.uuid4().hex[:8])
    for spelled in (b["user"]["handle"], b["user"]["handle"].lower(), b["user"]["handle"].upper()):
        r = await profile(http, a, spelled)
        assert r.status_code == 200 and r.json() == public(b["user"])
    assert (await profile(http, a, a["user"]["handle"])).json() == public(a["user"])


async def test_edit_profile(http):
    a, b = await signup(http), await signup(http)
    r = await http.patch(
        "/v1/me",
        headers=a["headers"],
        json={"display_name": "Ada L.", "bio": "Makes videos.\nLikes cats.", "avatar_url": "https://cdn.example/a.png"},
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["display_name"], edited["bio"], edited["avatar_url"]) == (
        "Ada L.", "Makes videos.\nLikes cats.", "https://cdn.example/a.png",
    )
    assert edited["id"] == a["user"]["id"] and edited["handle"] == a["user"]["handle"]
    assert (await http.get("/v1/me", headers=a["headers"])).json() == edited
    assert (await profile(http, b, a["user"]["handle"])).json() == public(edited)

    # Absent fields stay; "" clears; an empty patch changes nothing.
    r = await http.patch("/v1/me", headers=a["headers"], json={"avatar_url": ""})
    assert r.json() | {"avatar_url": "https://cdn.example/a.png"} == edited and r.json()["avatar_url"] == ""
    r = await http.patch("/v1/me", headers=a["headers"], json={})
    assert r.status_code == 200 and r.json()["bio"] == "Makes videos.\nLikes cats."
    # Limits are inclusive.
    r = await http.patch("/v1/me", headers=a["headers"], json={"display_name": "d" * 50, "bio": "b" * 500, "avatar_url": "http://x.example/" + "p" * 483})
    assert r.status_code == 200, r.text
    assert len(r.json()["avatar_url"]) == 500


PATCH_BAD = [
    ("malformed json", b'{"bio": "x"', 400),
    ("not an object", b'"bio"', 400),
    ("null", b"null", 400),
    ("empty body", b"", 400),
    ("bio wrong type", {"bio": 5}, 400),
    ("display_name null", {"display_name": None}, 400),
    ("unknown field", {"bio": "ok", "handle": "takeover"}, 400),
    ("display_name too long", {"display_name": "d" * 51}, 400),
    ("display_name two lines", {"display_name": "one\ntwo"}, 400),
    ("bio too long", {"bio": "b" * 501}, 400),
    ("bio control char", {"bio": "bell\x07"}, 400),
    ("display_name invisible only", {"display_name": "\ufeff"}, 400),
    ("bio invisible only", {"bio": "\u200b\u200b \u2800"}, 400),
    ("avatar not http", {"avatar_url": "ftp://x.example/a.png"}, 400),
    ("avatar javascript", {"avatar_url": "javascript:alert(1)"}, 400),
    ("avatar with space", {"avatar_url": "https://x.example/a b.png"}, 400),
    ("avatar trailing newline", {"avatar_url": "https://x.example/a.png\n"}, 400),
    ("avatar too long", {"avatar_url": "https://x.example/" + "p" * 483}, 400),
    ("oversized body", {"bio": BIG}, 413),
]


@pytest.mark.parametrize("name, body, status", PATCH_BAD, ids=[c[0] for c in PATCH_BAD])
async def test_edit_profile_bad_input(http, stores, name, body, status):
    a = await signup(http)
    await http.patch("/v1/me", headers=a["headers"], json={"bio": "before"})
    before = await snapshot(stores), (await http.get("/v1/me", headers=a["headers"])).json()
    if isinstance(body, bytes):
        r = await http.patch("/v1/me", headers=a["headers"] | {"content-type": "application/json"}, content=body)
    else:
        r = await http.patch("/v1/me", headers=a["headers"], json=body)
    assert_error(r, status)
    assert (await snapshot(stores), (await http.get("/v1/me", headers=a["headers"])).json()) == before


# --- follows ----------------------------------------------------------------


async def test_follow_unfollow_idempotent_with_counts(http):
    a, b = await signup(http), await signup(http)
    hb = b["user"]["handle"]
    for _ in range(2):
        r = await http.post(f"/v1/users/{hb}/follow", headers=a["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["following"], body["followed_by"], body["blocking"]) == (True, False, False)
        assert body["user"]["id"] == b["user"]["id"] and body["user"]["followers"] == 1
    assert await counts(http, a, hb) == (1, 0)
    assert await counts(http, b, a["user"]["handle"]) == (0, 1)
    assert (await http.get("/v1/me", headers=a["headers"])).json()["following"] == 1

    r = await http.post(f"/v1/users/{a['user']['handle']}/follow", headers=b["headers"])
    assert r.json()["followed_by"] is True and r.json()["following"] is True

    for _ in range(2):
        r = await http.delete(f"/v1/users/{hb.upper()}/follow", headers=a["headers"])
        assert r.status_code == 200, r.text
        assert (r.json()["following"], r.json()["followed_by"]) == (False, True)
        assert r.json()["user"]["followers"] == 0
    assert await counts(http, a, hb) == (0, 1)
    assert await counts(http, a, a["user"]["handle"]) == (1, 0)


async def test_cannot_follow_yourself(http, stores):
    a = await signup(http)
    before = await snapshot(stores)
    assert_error(await http.post(f"/v1/users/{a['user']['handle']}/follow", headers=a["headers"]), 400, "self_follow")
    assert_error(await http.post(f"/v1/users/{a['user']['handle']}/block", headers=a["headers"]), 400, "self_block")
    assert await snapshot(stores) == before
    assert await counts(http, a, a["user"]["handle"]) == (0, 0)


async def test_followers_and_following_pages(http):
    star = await signup(http)
    fans = [await signup(http) for _ in range(12)]
    for fan in fans:
        r = await http.post(f"/v1/users/{star['user']['handle']}/follow", headers=fan["headers"])
        assert r.status_code == 200
    newest_first = [f["user"]["handle"] for f in reversed(fans)]

    pages = await walk(http, fans[0], f"/v1/users/{star['user']['handle']}/followers", limit=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sum(pages, []) == newest_first
    # The default page size covers them all in one page.
    pages = await walk(http, star, f"/v1/users/{star['user']['handle']}/followers", limit=20)
    assert pages == [newest_first]

    # An unfollow between two pages neither repeats nor skips the others.
    first = await http.get(f"/v1/users/{star['user']['handle']}/followers", params={"limit": 4}, headers=star["headers"])
    gone = fans[9]  # third on the first page
    await http.delete(f"/v1/users/{star['user']['handle']}/follow", headers=gone["headers"])
    rest = await http.get(
        f"/v1/users/{star['user']['handle']}/followers",
        params={"limit": 50, "cursor": first.json()["next_cursor"]},
        headers=star["headers"],
    )
    seen = [u["handle"] for u in first.json()["data"] + rest.json()["data"]]
    assert seen == newest_first and rest.json()["next_cursor"] is None

    # Following, from the other side; each item is the public user shape.
    for other in fans[:3]:
        await http.post(f"/v1/users/{other['user']['handle']}/follow", headers=star["headers"])
    r = await http.get(f"/v1/users/{star['user']['handle']}/following", params={"limit": 2}, headers=fans[5]["headers"])
    body = r.json()
    assert [u["handle"] for u in body["data"]] == [fans[2]["user"]["handle"], fans[1]["user"]["handle"]]
    assert set(body["data"][0]) == {"id", "handle", "display_name", "bio", "avatar_url", "created_at", "followers", "following", "private"}
    pages = await walk(http, star, f"/v1/users/{star['user']['handle']}/following", limit=2)
    assert pages == [[fans[2]["user"]["handle"], fans[1]["user"]["handle"]], [fans[0]["user"]["handle"]]]


# --- blocks -----------------------------------------------------------------


async def test_block_removes_follows_and_hides_both_ways(http, stores):
    a, b, c = await signup(http), await signup(http), await signup(http)
    ha, hb, hc = (u["user"]["handle"] for u in (a, b, c))
    await http.post(f"/v1/users/{hb}/follow", headers=a["headers"])
    await http.post(f"/v1/users/{ha}/follow", headers=b["headers"])
    await http.post(f"/v1/users/{hc}/follow", headers=b["headers"])
    assert await counts(http, c, ha) == (1, 1)

    r = await http.post(f"/v1/users/{hb}/block", headers=a["headers"])
    assert r.status_code == 200, r.text
    assert r.json() == {"following": False, "followed_by": False, "blocking": True}
    again = await http.post(f"/v1/users/{hb}/block", headers=a["headers"])
    assert again.status_code == 200 and again.json() == r.json()

    # Follows gone both ways, counts back to zero.
    assert await counts(http, c, ha) == (0, 0)
    assert await counts(http, c, hb) == (0, 1)
    assert (await walk(http, c, f"/v1/users/{ha}/followers", 10)) == [[]]

    # Neither sees the other: profile and lists are 404, as for an unknown user.
    unknown = await http.get("/v1/users/nobody_" + uuid.uuid4().hex[:8], headers=a["headers"])
    for viewer, other in ((a, hb), (b, ha)):
        for path in (f"/v1/users/{other}", f"/v1/users/{other}/followers", f"/v1/users/{other}/following"):
            r = await http.get(path, headers=viewer["headers"])
            assert_error(r, 404, "user_not_found")
            assert r.content == unknown.content

    # Neither can follow the other: the blocker is told, the blocked one sees 404.
    before = await snapshot(stores)
    assert_error(await http.post(f"/v1/users/{hb}/follow", headers=a["headers"]), 403, "blocked")
    assert_error(await http.post(f"/v1/users/{ha}/follow", headers=b["headers"]), 404, "user_not_found")
    assert_error(await http.delete(f"/v1/users/{ha}/follow", headers=b["headers"]), 404, "user_not_found")
    assert await snapshot(stores) == before

    # A third party's lists leave the blocked user out for the blocker only.
    await http.post(f"/v1/users/{hc}/follow", headers=a["headers"])
    seen_by_a = (await walk(http, a, f"/v1/users/{hc}/followers", 10))[0]
    seen_by_c = (await walk(http, c, f"/v1/users/{hc}/followers", 10))[0]
    assert seen_by_a == [ha] and seen_by_c == [ha, hb]

    # Unblocking shows them again but does not restore follows.
    r = await http.delete(f"/v1/users/{hb}/block", headers=a["headers"])
    assert r.status_code == 200 and r.json()["blocking"] is False
    assert (await http.delete(f"/v1/users/{hb}/block", headers=a["headers"])).status_code == 200
    assert (await profile(http, b, ha)).status_code == 200
    assert await counts(http, a, hb) == (0, 1)
    r = await http.post(f"/v1/users/{ha}/follow", headers=b["headers"])
    assert r.status_code == 200 and r.json()["following"] is True


async def test_blocked_user_may_block_back_without_seeing_the_profile(http):
    a, b = await signup(http), await signup(http)
    await http.patch("/v1/me", headers=a["headers"], json={"bio": "secret bio"})
    await http.post(f"/v1/users/{b['user']['handle']}/block", headers=a["headers"])
    r = await http.post(f"/v1/users/{a['user']['handle']}/block", headers=b["headers"])
    assert r.status_code == 200 and r.json()["blocking"] is True
    assert b"secret bio" not in r.content
    # A lifts its block; B's still hides them from each other.
    await http.delete(f"/v1/users/{b['user']['handle']}/block", headers=a["headers"])
    assert_error(await profile(http, a, b["user"]["handle"]), 404)


async def test_my_blocked_accounts_are_listed_newest_first_for_me_alone(http, stores):
    """A blocked profile is hidden from its blocker, so GET /v1/me/blocks is where
    they find the people they block, to lift a block."""
    me, other = await signup(http), await signup(http)
    blocked = [await signup(http) for _ in range(3)]
    for u in blocked:
        assert (await http.post(f"/v1/users/{u['user']['handle']}/block", headers=me["headers"])).status_code == 200
    await http.post(f"/v1/users/{blocked[0]['user']['handle']}/block", headers=other["headers"])
    # one who blocks me back is still mine to unblock: the list shows them
    await http.post(f"/v1/users/{me['user']['handle']}/block", headers=blocked[1]["headers"])
    handles = [u["user"]["handle"] for u in blocked]
    assert await walk(http, me, "/v1/me/blocks", limit=2) == [[handles[2], handles[1]], [handles[0]]]
    listed = (await http.get("/v1/me/blocks", headers=me["headers"])).json()["data"]
    assert listed[0] == public(blocked[2]["user"]) | {"followers": 0, "following": 0}
    # each sees their own blocks, never another's; blocking me puts nobody on my list
    assert await walk(http, other, "/v1/me/blocks", limit=10) == [[handles[0]]]
    assert await walk(http, blocked[1], "/v1/me/blocks", limit=10) == [[me["user"]["handle"]]]
    assert await walk(http, blocked[2], "/v1/me/blocks", limit=10) == [[]]
    # lifting a block takes them off the list
    await http.delete(f"/v1/users/{handles[1]}/block", headers=me["headers"])
    assert await walk(http, me, "/v1/me/blocks", limit=10) == [[handles[2], handles[0]]]


async def test_blocks_made_before_they_were_keyed_are_listed_in_their_place(http, stores):
    """Blocks written before they carried the key the list pages on get one
    from their time when the indexes are ensured at an api start, on a
    database that has not had it done; once done, later starts skip the scan."""
    from accounts import indexes

    me, old, new = await signup(http), await signup(http), await signup(http)
    await http.post(f"/v1/users/{new['user']['handle']}/block", headers=me["headers"])
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)  # stored as UTC
    await stores.db.blocks.insert_one(
        {"_id": f"{me['user']['id']}:{old['user']['id']}", "blocker": me["user"]["id"], "blocked": old["user"]["id"], "created_at": when}
    )
    # unkeyed, it is lost to the cursor: page two asks for keys under the first page's
    assert await walk(http, me, "/v1/me/blocks", limit=1) == [[new["user"]["handle"]], []]
    assert await stores.db.migrations.find_one({"_id": indexes.KEY_OLD_BLOCKS})  # this api's start did it
    await indexes.ensure(stores)  # so a start skips it
    assert await walk(http, me, "/v1/me/blocks", limit=1) == [[new["user"]["handle"]], []]
    await stores.db.migrations.delete_one({"_id": indexes.KEY_OLD_BLOCKS})  # a database where it was never done
    await indexes.ensure(stores)
    assert await walk(http, me, "/v1/me/blocks", limit=1) == [[new["user"]["handle"]], [old["user"]["handle"]]]
    doc = await stores.db.blocks.find_one({"blocked": old["user"]["id"]})
    assert ULID.from_str(doc["k"]).datetime == when.replace(tzinfo=datetime.UTC)
    assert await stores.db.migrations.find_one({"_id": indexes.KEY_OLD_BLOCKS})


# --- bad input on every users route ----------------------------------------

ROUTES = [
    ("GET", "/v1/users/{h}"),
    ("GET", "/v1/users/{h}/relationship"),
    ("GET", "/v1/users/{h}/followers"),
    ("GET", "/v1/users/{h}/following"),
    ("POST", "/v1/users/{h}/follow"),
    ("DELETE", "/v1/users/{h}/follow"),
    ("POST", "/v1/users/{h}/block"),
    ("DELETE", "/v1/users/{h}/block"),
    ("GET", "/v1/me"),
    ("PATCH", "/v1/me"),
    ("GET", "/v1/me/blocks"),
]


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize("name, headers", BAD_AUTH, ids=[c[0] for c in BAD_AUTH])
async def test_routes_need_a_valid_token(http, stores, method, path, name, headers):
    target = await signup(http)
    before = await snapshot(stores)
    r = await http.request(method, path.format(h=target["user"]["handle"]), headers=headers, json={"bio": "x"} if method == "PATCH" else None)
    assert_error(r, 401)
    assert await snapshot(stores) == before
    assert (await http.get("/v1/me", headers=target["headers"])).json()["bio"] == ""


UNKNOWN_HANDLES = ["nobody_" + uuid.uuid4().hex[:8], "ab", "x" * 31, "has%20space", "caf%C3%A9", "abc%0A"]


@pytest.mark.parametrize("method, path", [r for r in ROUTES if "{h}" in r[1]], ids=[f"{m} {p}" for m, p in ROUTES if "{h}" in p])
async def test_unknown_handles_are_404(http, stores, method, path):
    a = await signup(http)
    before = await snapshot(stores)
    for handle in UNKNOWN_HANDLES:
        assert_error(await http.request(method, path.format(h=handle), headers=a["headers"]), 404, "user_not_found")
    assert await snapshot(stores) == before


LIST_BAD = [
    ({"limit": "0"}, "limit zero"),
    ({"limit": "101"}, "limit too big"),
    ({"limit": "-3"}, "limit negative"),
    ({"limit": "ten"}, "limit not a number"),
    ({"limit": "1.5"}, "limit not an integer"),
    ({"cursor": "not-a-cursor"}, "cursor garbage"),
    ({"cursor": "01ARZ3NDEKTSV4RRFFQ69G5FA"}, "cursor too short"),
    ({"cursor": "c" * 65}, "cursor too long"),
]


@pytest.mark.parametrize("which", ["followers", "following", "blocks"])
@pytest.mark.parametrize("params, name", LIST_BAD, ids=[c[1] for c in LIST_BAD])
async def test_list_bad_query(http, which, params, name):
    a = await signup(http)
    path = "/v1/me/blocks" if which == "blocks" else f"/v1/users/{a['user']['handle']}/{which}"
    r = await http.get(path, params=params, headers=a["headers"])
    assert_error(r, 400)


# --- WebSocket authentication helper ---------------------------------------


def test_token_from_scope_for_websockets(api, settings):
    session = httpx.post(
        api.url + "/v1/auth/signup", json={"handle": "ws_" + uuid.uuid4().hex[:8], "password": "correct horse", "birth_date": "1990-01-01"}
    ).json()

    @websocket("/ws")
    async def who_am_i(socket: WebSocket) -> None:
        try:
            user = await token_from_scope(socket)
        except Unauthorized as exc:
            await socket.close(code=4401, reason=exc.code)
            return
        await socket.accept()
        await socket.send_json({"id": user.id})
        await socket.close()

    async def connect(app: Litestar) -> None:
        app.state.stores = open_stores(settings)

    async def disconnect(app: Litestar) -> None:
        await app.state.stores.close()

    app = Litestar([who_am_i], on_startup=[connect], on_shutdown=[disconnect])
    with TestClient(app) as client:
        with client.websocket_connect("/ws?token=" + session["token"]) as ws:
            assert ws.receive_json() == {"id": session["user"]["id"]}
        with client.websocket_connect("/ws", headers={"Authorization": "Bearer " + session["token"]}) as ws:
            assert ws.receive_json() == {"id": session["user"]["id"]}
        for url in ("/ws", "/ws?token=fab_nope", "/ws?token="):
            with pytest.raises(WebSocketDisconnect) as info:
                with client.websocket_connect(url) as ws:
                    ws.receive_json()
            assert info.value.code == 4401
        # Logging out revokes the token for WebSockets too.
        httpx.post(api.url + "/v1/auth/logout", headers={"Authorization": "Bearer " + session["token"]})
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("/ws?token=" + session["token"]) as ws:
                ws.receive_json()
