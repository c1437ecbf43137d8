"""Account deletion (DELETE /v1/me): a user with something of everything
(videos and a post, likes, comments and a reply under someone else's, a
share, views and a feed session, follows both ways, a block, notifications
both ways, a cameo with a grant and an appearance, a failed password check)
deletes their account; then no Mongo collection, no Redis key or value and
no media object names them, and the other user's things are intact."""

from __future__ import annotations

import json
import uuid

import pytest

from cameos import appearances, grants, identity
from cameos import store as cameo_store
from core.media_store import open_media_store
from core.messages import JobEvent
from gen import events
from server.ws import protocol as proto
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.accounts.test_account_export import made_video
from tests.feed.test_posts_feed import follow, publish
from tests.server.test_ws import closed_code, connect

PASSWORD = "my own secret words"  # (the other users have the suite's default one)


async def delete_me(http, user: dict, password: str | None = PASSWORD, headers: dict | None = None):
    body = {} if password is None else {"password": password}
    return await http.request("DELETE", "/v1/me", json=body, headers=user["headers"] if headers is None else headers)


async def mongo_mentions(stores, needles: set[str], skip: set[str] = frozenset()) -> list[str]:
    found = []
    for name in set(await stores.db.list_collection_names()) - skip:
        async for doc in stores.db[name].find({}):
            text = json.dumps(doc, default=str)
            hits = [n for n in needles if n in text]
            if hits:
                found.append(f"{name}: {hits} in {text[:300]}")
    return found


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple, set)):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_text(k) + " " + _text(v) for k, v in value.items())
    return str(value)


async def redis_mentions(stores, needles: set[str]) -> list[str]:
    r = stores.redis
    found = []
    async for key in r.scan_iter(match=stores.settings.namespace + ":*", count=1000):
        kind = (await r.type(key)).decode()
        if kind == "string":
            value = await r.get(key)
        elif kind == "hash":
            value = await r.hgetall(key)
        elif kind == "list":
            value = await r.lrange(key, 0, -1)
        elif kind == "set":
            value = await r.smembers(key)
        elif kind == "zset":
            value = await r.zrange(key, 0, -1)
        elif kind == "stream":
            value = [fields for _, fields in await r.xrange(key)]
        else:
            value = b""
        text = _text(key) + " " + _text(value)
        hits = [n for n in needles if n in text]
        if hits:
            found.append(f"{_text(key)} ({kind}): {hits}")
    return found


def media_mentions(settings, needles: set[str]) -> list[str]:
    root = settings.media_root
    return [str(p) for p in root.rglob("*") if any(n in str(p.relative_to(root)) for n in needles)] if root.exists() else []


@pytest.fixture
async def pair(http, stores, settings):
    """The user who leaves (``me``, two finished videos, one with the events a
    worker leaves) and one who stays (``other``, one video)."""
    me, other = await signup(http, password=PASSWORD), await signup(http)
    mine = [await made_video(stores, settings, me) for _ in range(2)]
    theirs = [await made_video(stores, settings, other)]
    await events.publish(stores, JobEvent(type="status", video_id=mine[0], status="completed", progress=100))
    return me, other, mine, theirs


async def test_deleting_an_account_leaves_nothing(http, stores, settings, api, pair):
    me, other, mine, theirs = pair
    uid, oid = me["user"]["id"], other["user"]["id"]
    my_post = await publish(http, me, mine[0], "mine")
    their_post = await publish(http, other, theirs[0], "theirs")
    blocked = await signup(http)
    h = me["headers"]

    # the graph, both ways, and a block
    await follow(http, me, other)
    await follow(http, other, me)
    assert (await http.post(f"/v1/users/{blocked['user']['handle']}/block", headers=h)).status_code == 200
    # likes, comments, a reply under my comment, a share, a view, both ways
    for who, post in ((me, their_post), (other, my_post)):
        assert (await http.post(f"/v1/posts/{post['id']}/like", headers=who["headers"])).status_code == 200
    r = await http.post(f"/v1/posts/{their_post['id']}/comments", json={"text": "nice"}, headers=h)
    assert r.status_code in (200, 201), r.text
    my_comment = r.json()["id"]
    r = await http.post(f"/v1/posts/{their_post['id']}/comments", json={"text": "thanks", "reply_to": my_comment}, headers=other["headers"])
    assert r.status_code in (200, 201), r.text
    their_reply = r.json()["id"]
    r = await http.post(f"/v1/posts/{my_post['id']}/comments", json={"text": "cool"}, headers=other["headers"])
    assert r.status_code in (200, 201), r.text
    assert (await http.post(f"/v1/posts/{their_post['id']}/share", headers=h)).status_code == 200
    r = await http.post(f"/v1/posts/{their_post['id']}/view", json={"watch_ms": 500, "completed": False}, headers=h)
    assert r.status_code == 200, r.text
    assert (await http.get("/v1/feed", params={"kind": "for_you", "limit": 5}, headers=h)).status_code == 200
    # a cameo with its media, a grant asked of it, one asked by me, an appearance, a review entry
    media = open_media_store(settings)
    mine_cameo = await cameo_store.create_cameo(
        stores, media, owner_id=uid, kind="human", name="me", mention=None, embedding=[0.1] * 128, frames=[b"\xff\xd8frame"], voice=None
    )
    their_cameo = await cameo_store.create_cameo(
        stores, media, owner_id=oid, kind="character", name="Bob", mention="bob" + uuid.uuid4().hex[:6],
        embedding=None, frames=[b"\xff\xd8frame"], voice=None,
    )
    await grants.request(stores, cameo_id=mine_cameo.id, owner_id=uid, user_id=oid)
    await grants.request(stores, cameo_id=their_cameo.id, owner_id=oid, user_id=uid)
    await appearances.record(stores, cameo_id=mine_cameo.id, owner_id=uid, video_id=theirs[0], creator_id=oid, basis="public")
    await appearances.record(stores, cameo_id=their_cameo.id, owner_id=oid, video_id=mine[1], creator_id=uid, basis="public")
    await identity.log_for_review(stores, user_id=uid, match=identity.Match(cameo_id=their_cameo.id, owner_id=oid, distance=0.3), context="cameo")
    # a failed password check (a rate-limit bucket of mine)
    r = await http.post("/v1/auth/password", json={"current_password": "nope nope nope", "new_password": "purple elephant sunrise"}, headers=h)
    assert r.status_code == 403

    # (my comment's id stays on the authorless tombstone that keeps their reply readable)
    needles = {uid, *mine, my_post["id"], mine_cameo.id}
    assert await mongo_mentions(stores, {uid}), "the setup left nothing to find"
    assert await redis_mentions(stores, {uid})
    assert media_mentions(settings, set(mine))

    # what cannot delete it: no token, another user's token, no or a wrong password
    assert_error(await delete_me(http, me, headers={}), 401)
    assert_error(await delete_me(http, other), 403, "wrong_password")  # (other's account, my password)
    assert_error(await delete_me(http, me, password=None), 400)
    assert_error(await delete_me(http, me, password="not my password"), 403, "wrong_password")
    assert (await http.get("/v1/me", headers=h)).status_code == 200

    async with connect(api, me) as socket:
        r = await delete_me(http, me)
        assert r.status_code == 204, r.text
        assert await closed_code(socket) == proto.CLOSE_UNAUTHORIZED

    assert_error(await http.get("/v1/me", headers=h), 401)
    r = await http.post("/v1/auth/login", json={"handle": me["user"]["handle"], "password": PASSWORD})
    assert_error(r, 401, "invalid_credentials")
    # (a video's provenance record, its watermark key and video id, outlives
    # it: a copy found later can still be told apart as made here)
    assert "\n".join(await mongo_mentions(stores, needles, skip={"provenance_keys"})) == ""
    # (other users' like and view histories may keep a deleted post's id, as after any post deletion)
    assert "\n".join(await redis_mentions(stores, needles - {my_post["id"]})) == ""
    assert media_mentions(settings, needles) == []

    # the other user keeps their things, with my traces gone from the counts
    o = other["headers"]
    r = await http.get(f"/v1/posts/{their_post['id']}", headers=o)
    assert r.status_code == 200, r.text
    counts = r.json()["counts"]
    # my like and share went; my comment too, its tombstone kept for their reply (counted once)
    assert (counts["likes"], counts["comments"], counts["shares"]) == (0, 1, 0), counts
    me_now = (await http.get("/v1/me", headers=o)).json()
    assert (me_now["followers"], me_now["following"]) == (0, 0)
    replies = await http.get(f"/v1/comments/{my_comment}/replies", headers=o)
    assert replies.status_code in (200, 404)
    assert await stores.db["comments"].find_one({"_id": their_reply}) is not None  # their reply stays
    tombstone = await stores.db["comments"].find_one({"_id": my_comment})
    assert (tombstone["author_id"], tombstone["text"], tombstone["deleted"]) == ("", "", 1)
    assert await cameo_store.get_cameo(stores, their_cameo.id) is not None
    assert await stores.db["videos"].find_one({"_id": theirs[0]}) is not None
    # the handle is free again
    assert (await http.post("/v1/auth/signup", json={"handle": me["user"]["handle"], "password": PASSWORD, "birth_date": "1990-01-01"})).status_code == 201


async def test_openapi_declares_deletion(http):
    spec = (await http.get("/schema/openapi.json")).json()
    op = spec["paths"]["/v1/me"]["delete"]
    assert {"204", "400", "401", "403", "429"} <= set(op["responses"])
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("AccountDeletion")
