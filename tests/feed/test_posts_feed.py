"""Publishing videos as posts, reading posts and their media, and the
following feed, over HTTP against the live api and a worker process."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from gen import jobs
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error

FAST = {"steps": 2, "seconds": "1", "size": "64x64"}  # the quickest real video the tiny preset makes
OVERSIZED_CAPTION = "x" * (300 * 1024)  # the test server's body limit is 256 KiB


async def poll(check, *, timeout: float = 120.0, interval: float = 0.1, what: str = "condition"):
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


async def create_video(http: httpx.AsyncClient, user: dict, prompt: str = "a paper boat") -> str:
    r = await http.post("/v1/videos", json={"prompt": prompt, **FAST}, headers=user["headers"])
    assert r.status_code == 200, r.text
    return r.json()["id"]


async def wait_done(http: httpx.AsyncClient, user: dict, video_id: str) -> dict:
    async def finished():
        body = (await http.get(f"/v1/videos/{video_id}", headers=user["headers"])).json()
        return body if body["status"] in jobs.TERMINAL else None

    return await poll(finished, what=f"{video_id} to finish")


async def completed_videos(http: httpx.AsyncClient, user: dict, n: int) -> list[str]:
    """``n`` completed videos of ``user``, made by the worker (about a second each)."""
    ids = [await create_video(http, user, f"scene {i}") for i in range(n)]
    for video in await asyncio.gather(*(wait_done(http, user, vid) for vid in ids)):
        assert video["status"] == "completed", video
    return ids


async def publish(http: httpx.AsyncClient, user: dict, video_id: str, caption: str = "") -> dict:
    r = await http.post("/v1/posts", json={"video_id": video_id, "caption": caption}, headers=user["headers"])
    assert r.status_code == 201, r.text
    return r.json()


async def post_count(stores, **query) -> int:
    return await stores.db["posts"].count_documents(query)


async def follow(http: httpx.AsyncClient, follower: dict, followee: dict) -> None:
    r = await http.post(f"/v1/users/{followee['user']['handle']}/follow", headers=follower["headers"])
    assert r.status_code == 200, r.text


async def feed_pages(http: httpx.AsyncClient, user: dict, limit: int) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        params = {"kind": "following", "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await http.get("/v1/feed", params=params, headers=user["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "list" and body["kind"] == "following"
        assert len(body["data"]) <= limit
        pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


# --- publishing -------------------------------------------------------------


async def test_publish_then_read_post_and_media(http, stores, worker):
    author, follower, stranger = await signup(http), await signup(http), await signup(http)
    await follow(http, follower, author)
    [vid] = await completed_videos(http, author, 1)
    caption = "boat day ⛵ — café"

    post = await publish(http, author, vid, caption)
    assert post["id"].startswith("post_") and post["object"] == "post"
    assert post["video_id"] == vid and post["caption"] == caption
    assert post["author"] == {
        "id": author["user"]["id"],
        "handle": author["user"]["handle"],
        "display_name": author["user"]["display_name"],
        "avatar_url": author["user"]["avatar_url"],
    }
    assert isinstance(post["created_at"], int) and post["created_at"] >= author["user"]["created_at"]
    assert post["content_url"] == f"/v1/posts/{post['id']}/content"
    assert post["thumbnail_url"] == f"/v1/posts/{post['id']}/content?variant=thumbnail"

    for viewer in (author, follower, stranger):
        r = await http.get(f"/v1/posts/{post['id']}", headers=viewer["headers"])
        assert r.status_code == 200 and r.json() == post

        video = await http.get(post["content_url"], headers=viewer["headers"])
        assert video.status_code == 200, video.text
        assert video.headers["content-type"] == "video/mp4" and video.headers["accept-ranges"] == "bytes"
        data = video.content
        assert data[4:8] == b"ftyp" and int(video.headers["content-length"]) == len(data)
        # the same bytes as the owner's download of the video itself
        own = await http.get(f"/v1/videos/{vid}/content", headers=author["headers"])
        assert own.content == data

        part = await http.get(post["content_url"], headers={**viewer["headers"], "Range": "bytes=8-23"})
        assert part.status_code == 206 and part.content == data[8:24]
        assert part.headers["content-range"] == f"bytes 8-23/{len(data)}"

        beyond = await http.get(post["content_url"], headers={**viewer["headers"], "Range": f"bytes={len(data)}-"})
        assert_error(beyond, 416)

        thumb = await http.get(post["thumbnail_url"], headers=viewer["headers"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert thumb.content[:3] == b"\xff\xd8\xff"

    assert_error(await http.get(post["content_url"], params={"variant": "poster"}, headers=follower["headers"]), 400)
    assert await post_count(stores, video_id=vid) == 1


RANGES = [
    "bytes=0-0", "bytes=-1", "bytes=0-", "bytes=3-2", "bytes=abc", "bytes=0-1,4-5", "items=0-5", "bytes=-0",
    "bytes=99999999999999999999999-", "bytes=-99999999999999999999", "bytes=0-99999999999999999999999", "bytes= 1-2", "",
]


async def test_post_content_answers_any_range_header_sanely(http, worker):
    author = await signup(http)
    [vid] = await completed_videos(http, author, 1)
    post = await publish(http, author, vid)
    data = (await http.get(post["content_url"], headers=author["headers"])).content
    for header in RANGES:
        r = await http.get(post["content_url"], headers={**author["headers"], "Range": header})
        assert r.status_code in (200, 206, 416), (header, r.status_code, r.text[:200])
        if r.status_code == 200:
            assert r.content == data, header
        elif r.status_code == 206:
            first, last, size = map(int, re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", r.headers["content-range"]).groups())
            assert size == len(data) and r.content == data[first : last + 1] and int(r.headers["content-length"]) == last - first + 1, header
        else:
            assert_error(r, 416)
            assert r.headers["content-range"] == f"bytes */{len(data)}", header


# --- bad input writes nothing ----------------------------------------------


@pytest.fixture(scope="module")
async def publisher(api, worker):
    """A user with one completed video that no test in this module publishes successfully."""
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        user = await signup(client)
        [vid] = await completed_videos(client, user, 1)
        user["video_id"] = vid
        yield user


def _json(body) -> dict:
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


BAD_PUBLISH = [
    # name, request kwargs (VID stands for the publisher's completed video), status, error code
    ("malformed json", {"content": b'{"video_id": ', "headers": {"content-type": "application/json"}}, 400, "malformed_json"),
    ("not json at all", {"content": b"video_id=VID", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 400, "malformed_json"),
    ("whitespace only", {"content": b"  \n ", "headers": {"content-type": "application/json"}}, 400, None),
    ("empty body", {"content": b"", "headers": {"content-type": "application/json"}}, 400, "invalid_request"),
    ("json null", _json(None), 400, "invalid_request"),
    ("json array", _json(["VID"]), 400, "invalid_request"),
    ("json string", _json("VID"), 400, "invalid_request"),
    ("video_id wrong type", _json({"video_id": 5}), 400, "invalid_request"),
    ("video_id null", _json({"video_id": None}), 400, "invalid_request"),
    ("caption wrong type", _json({"video_id": "VID", "caption": ["a"]}), 400, "invalid_request"),
    ("unknown field", _json({"video_id": "VID", "tags": ["boats"]}), 400, "invalid_request"),
    ("unknown visibility", _json({"video_id": "VID", "visibility": "friends"}), 400, "invalid_request"),
    ("visibility wrong type", _json({"video_id": "VID", "visibility": 1}), 400, "invalid_request"),
    ("remix_of wrong type", _json({"video_id": "VID", "remix_of": 7}), 400, "invalid_request"),
    ("remix_of empty", _json({"video_id": "VID", "remix_of": ""}), 400, "invalid_request"),
    ("remix_of on a video that is no remix", _json({"video_id": "VID", "remix_of": "post_01jzzzzzzzzzzzzzzzzzzzzzzz"}), 400, "not_a_remix"),
    ("missing video_id", _json({"caption": "hello"}), 400, "invalid_request"),
    ("empty video_id", _json({"video_id": ""}), 400, "invalid_request"),
    ("video_id too long", _json({"video_id": "v" * 65}), 400, "invalid_request"),
    ("caption too long", _json({"video_id": "VID", "caption": "é" * 2201}), 400, "invalid_request"),
    ("oversized body", _json({"video_id": "VID", "caption": OVERSIZED_CAPTION}), 413, "payload_too_large"),
    ("no token", {"json": {"video_id": "VID"}, "auth": None}, 401, "missing_token"),
    ("bad token", {"json": {"video_id": "VID"}, "auth": "Bearer fab_not-a-token"}, 401, "invalid_token"),
    ("token in query string", {"json": {"video_id": "VID"}, "auth": None, "token_in_query": True}, 401, "missing_token"),
]


def _with_video(value, vid: str):
    if isinstance(value, bytes):
        return value.replace(b"VID", vid.encode())
    if isinstance(value, str):
        return value.replace("VID", vid)
    if isinstance(value, dict):
        return {k: _with_video(v, vid) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_video(v, vid) for v in value]
    return value


@pytest.mark.parametrize("name,kwargs,status,code", BAD_PUBLISH, ids=[c[0] for c in BAD_PUBLISH])
async def test_publish_rejects_bad_input_and_writes_nothing(http, stores, publisher, name, kwargs, status, code):
    kwargs = _with_video(dict(kwargs), publisher["video_id"])
    headers = dict(kwargs.pop("headers", {}))
    auth = kwargs.pop("auth", publisher["headers"]["Authorization"])
    if auth is not None:
        headers["Authorization"] = auth
    params = {"token": publisher["token"]} if kwargs.pop("token_in_query", False) else None
    r = await http.post("/v1/posts", headers=headers, params=params, **kwargs)
    err = assert_error(r, status, code)
    assert publisher["token"] not in r.text
    assert await post_count(stores, author_id=publisher["user"]["id"]) == 0
    assert await post_count(stores, video_id=publisher["video_id"]) == 0
    if name == "empty body":
        assert "empty" in err["message"] and "'data'" not in r.text, err


async def test_caption_limit_counts_characters(http, stores, worker):
    author = await signup(http)
    [vid] = await completed_videos(http, author, 1)
    longest = "é" * 2200  # 4400 bytes of UTF-8, still 2200 characters
    post = await publish(http, author, vid, longest)
    assert post["caption"] == longest


async def test_publish_refuses_foreign_unknown_unfinished_and_repeated_videos(http, stores, worker):
    owner, other = await signup(http), await signup(http)
    [vid] = await completed_videos(http, owner, 1)
    queued = await jobs.create_job(stores, owner_id=owner["user"]["id"], prompt="never queued", model="tiny", width=64, height=64, seconds=1, steps=2)
    failed = await jobs.create_job(stores, owner_id=owner["user"]["id"], prompt="doomed", model="tiny", width=64, height=64, seconds=1, steps=2)
    await jobs.fail(stores, failed.id, "generation_failed", "on purpose")

    cases = [
        (other, vid, 404, "video_not_found"),  # someone else's completed video
        (owner, "video_01jzzzzzzzzzzzzzzzzzzzzzzz", 404, "video_not_found"),
        (owner, "not-an-id", 404, "video_not_found"),
        (owner, queued.id, 409, "video_not_ready"),
        (owner, failed.id, 409, "video_not_ready"),
    ]
    for user, video_id, status, code in cases:
        r = await http.post("/v1/posts", json={"video_id": video_id}, headers=user["headers"])
        assert_error(r, status, code)
        assert await post_count(stores, video_id=video_id) == 0

    first = await publish(http, owner, vid, "first")
    assert_error(await http.post("/v1/posts", json={"video_id": vid, "caption": "again"}, headers=owner["headers"]), 409, "already_published")
    assert await post_count(stores, video_id=vid) == 1
    assert (await http.get(f"/v1/posts/{first['id']}", headers=owner["headers"])).json()["caption"] == "first"


async def test_concurrent_publish_of_one_video_makes_one_post(http, stores, worker):
    owner = await signup(http)
    [vid] = await completed_videos(http, owner, 1)
    answers = await asyncio.gather(
        *(http.post("/v1/posts", json={"video_id": vid, "caption": str(i)}, headers=owner["headers"]) for i in range(4))
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    assert await post_count(stores, video_id=vid) == 1


# --- reading posts -------------------------------------------------------------


@pytest.mark.parametrize("blocker", ["author", "viewer"])
async def test_blocked_pair_cannot_see_post_or_media(http, worker, blocker):
    author, viewer = await signup(http), await signup(http)
    await follow(http, viewer, author)
    [vid] = await completed_videos(http, author, 1)
    post = await publish(http, author, vid, "before the block")
    assert (await http.get(f"/v1/posts/{post['id']}", headers=viewer["headers"])).status_code == 200

    actor, target = (author, viewer) if blocker == "author" else (viewer, author)
    r = await http.post(f"/v1/users/{target['user']['handle']}/block", headers=actor["headers"])
    assert r.status_code == 200, r.text

    for path in (f"/v1/posts/{post['id']}", post["content_url"], post["thumbnail_url"]):
        assert_error(await http.get(path, headers=viewer["headers"]), 404, "post_not_found")
    # the author still sees it, and so does anyone else
    assert (await http.get(f"/v1/posts/{post['id']}", headers=author["headers"])).status_code == 200
    bystander = await signup(http)
    assert (await http.get(post["content_url"], headers=bystander["headers"])).status_code == 200
    # the block also ended the follow: the post is gone from the viewer's feed
    assert [p["id"] for page in await feed_pages(http, viewer, 20) for p in page] == []


async def test_unknown_post_and_missing_token(http):
    me = await signup(http)
    for path in ("/v1/posts/post_01jzzzzzzzzzzzzzzzzzzzzzzz", "/v1/posts/nope/content", "/v1/posts/%24where"):
        assert_error(await http.get(path, headers=me["headers"]), 404)
    for path in ("/v1/posts/post_x", "/v1/posts/post_x/content", "/v1/feed"):
        assert_error(await http.get(path), 401, "missing_token")
        assert_error(await http.get(path, headers={"Authorization": "Bearer nope"}), 401, "invalid_token")
        # a token in the query string is not read on plain HTTP
        assert_error(await http.get(path, params={"token": me["token"]}), 401, "missing_token")


# --- the following feed -----------------------------------------------------


async def test_following_feed_pages_newest_first_without_repeats_or_gaps(http, worker):
    me, alice, bob, stranger = [await signup(http) for _ in range(4)]
    await follow(http, me, alice)
    await follow(http, me, bob)
    await follow(http, stranger, me)  # being followed brings nothing into my feed

    made = await asyncio.gather(
        completed_videos(http, me, 2), completed_videos(http, alice, 2), completed_videos(http, bob, 2), completed_videos(http, stranger, 1)
    )
    mine, alices, bobs, strangers = made
    order = [(me, mine[0]), (alice, alices[0]), (stranger, strangers[0]), (bob, bobs[0]), (alice, alices[1]), (me, mine[1]), (bob, bobs[1])]
    published = [(user, await publish(http, user, vid, f"post {i}")) for i, (user, vid) in enumerate(order)]
    expected = [post["id"] for user, post in reversed(published) if user is not stranger]
    assert len(expected) == 6

    for limit in (1, 2, 5, 6, 50):
        pages = await feed_pages(http, me, limit)
        ids = [p["id"] for page in pages for p in page]
        assert ids == expected, f"limit={limit}"
        assert all(len(page) == limit for page in pages[:-1]), f"limit={limit}: a short page before the end"
        assert len(pages) == max(1, -(-len(expected) // limit)), f"limit={limit}: {[len(p) for p in pages]}"
    everything = [p for page in await feed_pages(http, me, 50) for p in page]
    stamps = [p["created_at"] for p in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {p["author"]["id"] for p in everything} == {me["user"]["id"], alice["user"]["id"], bob["user"]["id"]}

    # alice follows nobody: her feed is her own posts; the stranger follows me
    assert [p["id"] for page in await feed_pages(http, alice, 2) for p in page] == [
        post["id"] for user, post in reversed(published) if user is alice
    ]
    assert [p["id"] for page in await feed_pages(http, stranger, 2) for p in page] == [
        post["id"] for user, post in reversed(published) if user in (stranger, me)
    ]

    # unfollowing bob drops his posts at once
    r = await http.delete(f"/v1/users/{bob['user']['handle']}/follow", headers=me["headers"])
    assert r.status_code == 200
    assert [p["id"] for page in await feed_pages(http, me, 2) for p in page] == [
        post["id"] for user, post in reversed(published) if user in (me, alice)
    ]


async def test_feed_pages_hold_still_while_new_posts_arrive(http, worker):
    """A post published between two page reads appears on no later page and shifts nothing."""
    me = await signup(http)
    vids = await completed_videos(http, me, 4)
    posts = [await publish(http, me, vid) for vid in vids[:3]]
    first = (await http.get("/v1/feed", params={"limit": 2}, headers=me["headers"])).json()
    assert [p["id"] for p in first["data"]] == [posts[2]["id"], posts[1]["id"]]
    newest = await publish(http, me, vids[3])
    rest = (await http.get("/v1/feed", params={"limit": 2, "cursor": first["next_cursor"]}, headers=me["headers"])).json()
    assert [p["id"] for p in rest["data"]] == [posts[0]["id"]] and rest["next_cursor"] is None
    top = (await http.get("/v1/feed", params={"limit": 1}, headers=me["headers"])).json()
    assert [p["id"] for p in top["data"]] == [newest["id"]]


async def test_empty_feed(http):
    me = await signup(http)
    r = await http.get("/v1/feed", headers=me["headers"])
    assert r.status_code == 200
    assert r.json() == {"kind": "following", "data": [], "next_cursor": None, "object": "list"}


BAD_FEED = [
    ("unknown kind", {"kind": "trending-sideways"}, 400),
    ("empty kind", {"kind": ""}, 400),
    ("limit zero", {"limit": 0}, 400),
    ("limit negative", {"limit": -3}, 400),
    ("limit too large", {"limit": 51}, 400),
    ("limit huge", {"limit": "9" * 30}, 400),
    ("limit not a number", {"limit": "ten"}, 400),
    ("limit a float", {"limit": "2.5"}, 400),
    ("cursor too long", {"cursor": "post_" + "z" * 100}, 400),
    ("cursor not a post id", {"cursor": "zzzz"}, 400),
    ("cursor of another kind", {"cursor": "user_01jzzzzzzzzzzzzzzzzzzzzzzz"}, 400),
    ("cursor with a NUL", {"cursor": "post_\x00"}, 400),
    ("empty cursor", {"cursor": ""}, 400),
    ("cursor of the right length, wrong alphabet", {"cursor": "post_" + "!" * 26}, 400),
]


@pytest.mark.parametrize("name,params,status", BAD_FEED, ids=[c[0] for c in BAD_FEED])
async def test_feed_rejects_bad_queries(http, name, params, status):
    me = await signup(http)
    r = await http.get("/v1/feed", params=params, headers=me["headers"])
    err = assert_error(r, status)
    # the message names no query string (it could carry a secret)
    assert "?" not in err["message"], err


async def test_validation_messages_do_not_echo_the_query_string(http):
    me = await signup(http)
    r = await http.get("/v1/feed", params={"kind": "bogus", "token": "secret-token-value"}, headers=me["headers"])
    err = assert_error(r, 400, "invalid_request")
    assert "secret-token-value" not in r.text and "?" not in err["message"], err
    assert any(d.get("field") == "kind" for d in err["details"]), err
