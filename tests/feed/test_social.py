"""The social rules over HTTP against the live api: visibility, editing and
deleting posts, drafts, profile grids, likes, comments and replies, shares,
views, remix chains, and blocks."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.clock import utcnow
from feed.social import comments as feed_comments
from feed.social import counters, likes
from gen import jobs
from policy.visibility import can_view_post, visible_kinds
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_posts_feed import completed_videos, follow, publish

MISSING_POST = "post_01jzzzzzzzzzzzzzzzzzzzzzzz"


# --- helpers (other test modules use them too) ----------------------------------


async def ready_video(stores, user: dict, prompt: str = "a lighthouse at dusk", remixed_from: str | None = None) -> str:
    """A completed video of ``user`` without running the worker (no media files):
    enough to publish and to act on the post; the media tests use real videos."""
    job = await jobs.create_job(
        stores,
        owner_id=user["user"]["id"],
        prompt=prompt,
        model="tiny",
        width=64,
        height=64,
        seconds=1,
        steps=2,
        remixed_from_video_id=remixed_from,
    )
    await stores.db["videos"].update_one(
        {"_id": job.id}, {"$set": {"status": "completed", "progress": 100, "completed_at": utcnow()}}
    )
    return job.id


async def new_post(http: httpx.AsyncClient, stores, user: dict, caption: str = "", **fields) -> dict:
    """Publish a fresh (worker-less) video of ``user`` through the API."""
    remixed_from = fields.pop("remixed_from", None)
    vid = await ready_video(stores, user, remixed_from=remixed_from)
    r = await http.post("/v1/posts", json={"video_id": vid, "caption": caption, **fields}, headers=user["headers"])
    assert r.status_code == 201, r.text
    return r.json()


async def block(http: httpx.AsyncClient, blocker: dict, blocked: dict) -> None:
    r = await http.post(f"/v1/users/{blocked['user']['handle']}/block", headers=blocker["headers"])
    assert r.status_code == 200, r.text


async def get_post(http: httpx.AsyncClient, user: dict, post_id: str) -> httpx.Response:
    return await http.get(f"/v1/posts/{post_id}", headers=user["headers"])


async def grid(http: httpx.AsyncClient, viewer: dict, owner: dict, limit: int = 50) -> list[str]:
    ids, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await http.get(f"/v1/users/{owner['user']['handle']}/posts", params=params, headers=viewer["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "list" and len(body["data"]) <= limit
        ids += [p["id"] for p in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


async def comment(http: httpx.AsyncClient, user: dict, post_id: str, text: str, reply_to: str | None = None) -> httpx.Response:
    body = {"text": text, **({"reply_to": reply_to} if reply_to else {})}
    return await http.post(f"/v1/posts/{post_id}/comments", json=body, headers=user["headers"])


async def counts(http: httpx.AsyncClient, user: dict, post_id: str) -> dict:
    r = await get_post(http, user, post_id)
    assert r.status_code == 200, r.text
    return r.json()["counts"]


# --- the decision itself ------------------------------------------------------------


@pytest.mark.parametrize(
    "visibility,is_author,follows,blocked,allowed",
    [
        ("public", False, False, False, True),
        ("public", False, True, True, False),
        ("followers", False, True, False, True),
        ("followers", False, False, False, False),
        ("followers", False, True, True, False),
        ("private", False, True, False, False),
        ("private", True, False, False, True),
        ("followers", True, False, False, True),
        ("public", True, False, True, True),  # the author always sees their own
        ("secret", False, True, False, False),
    ],
)
def test_can_view_post(visibility, is_author, follows, blocked, allowed):
    decision = can_view_post(
        visibility=visibility,
        author_id="user_a",
        viewer_id="user_a" if is_author else "user_b",
        viewer_follows_author=follows,
        blocked=blocked,
    )
    assert decision.allowed is allowed
    if not allowed:
        assert decision.category and decision.reason
    # the list form agrees with the single decision
    if visibility in ("public", "followers", "private"):
        kinds = visible_kinds(is_author=is_author, viewer_follows_author=follows, blocked=blocked)
        assert (visibility in kinds) is allowed


# --- visibility ----------------------------------------------------------------------


async def test_visibility_decides_who_sees_and_acts_on_a_post(http, stores):
    author, fan, stranger = await signup(http), await signup(http), await signup(http)
    await follow(http, fan, author)
    public = await new_post(http, stores, author, "for everyone")
    followers = await new_post(http, stores, author, "for my followers", visibility="followers")
    private = await new_post(http, stores, author, "only me", visibility="private")
    assert (public["visibility"], followers["visibility"], private["visibility"]) == ("public", "followers", "private")
    # a thread under each post, with the author's reply: what /replies would show
    threads = {}
    for post in (public, followers, private):
        top = (await comment(http, author, post["id"], "first")).json()
        reply = (await comment(http, author, post["id"], "and more", reply_to=top["id"])).json()
        threads[post["id"]] = (top["id"], reply["id"])

    sees = {
        author["user"]["id"]: {public["id"], followers["id"], private["id"]},
        fan["user"]["id"]: {public["id"], followers["id"]},
        stranger["user"]["id"]: {public["id"]},
    }
    for viewer in (author, fan, stranger):
        visible = sees[viewer["user"]["id"]]
        for post in (public, followers, private):
            r = await get_post(http, viewer, post["id"])
            top, reply = threads[post["id"]]
            if post["id"] in visible:
                assert r.status_code == 200 and r.json()["id"] == post["id"]
                replies = await http.get(f"/v1/comments/{top}/replies", headers=viewer["headers"])
                assert replies.status_code == 200 and [c["id"] for c in replies.json()["data"]] == [reply], replies.text
            else:
                # hidden posts answer as unknown ones, for every action, and nothing is written
                assert_error(r, 404, "post_not_found")
                pid = post["id"]
                for method, path, body in [
                    ("POST", f"/v1/posts/{pid}/like", None),
                    ("DELETE", f"/v1/posts/{pid}/like", None),
                    ("POST", f"/v1/posts/{pid}/comments", {"text": "hi"}),
                    ("GET", f"/v1/posts/{pid}/comments", None),
                    ("POST", f"/v1/posts/{pid}/share", None),
                    ("POST", f"/v1/posts/{pid}/view", {"watch_ms": 100}),
                    ("GET", f"/v1/posts/{pid}/remixes", None),
                    ("GET", f"/v1/posts/{pid}/chain", None),
                    ("GET", f"/v1/posts/{pid}/content", None),
                    ("PATCH", f"/v1/posts/{pid}", {"caption": "mine now"}),
                    ("DELETE", f"/v1/posts/{pid}", None),
                ]:
                    answer = await http.request(method, path, json=body, headers=viewer["headers"])
                    assert_error(answer, 404, "post_not_found")
                # a comment under it is hidden as an unknown one: its replies too
                answer = await http.get(f"/v1/comments/{top}/replies", headers=viewer["headers"])
                assert_error(answer, 404, "comment_not_found")
                assert reply not in answer.text
        assert set(await grid(http, viewer, author)) == visible
    # the author's thread (2 comments) and nothing from the others
    assert await counts(http, author, private["id"]) == {"likes": 0, "comments": 2, "views": 0, "remixes": 0, "shares": 0}
    assert await stores.db["likes"].count_documents({"user_id": {"$in": [fan["user"]["id"], stranger["user"]["id"]]}}) == 0

    # the following feed: my fan sees the followers-only post, nobody sees another's private one
    fan_feed = (await http.get("/v1/feed", headers=fan["headers"])).json()
    assert [p["id"] for p in fan_feed["data"]] == [followers["id"], public["id"]]

    # unfollowing takes the followers-only post away
    await http.delete(f"/v1/users/{author['user']['handle']}/follow", headers=fan["headers"])
    assert_error(await get_post(http, fan, followers["id"]), 404, "post_not_found")


async def test_edit_caption_and_visibility(http, stores):
    author, other = await signup(http), await signup(http)
    post = await new_post(http, stores, author, "first words")
    assert post["edited_at"] is None

    r = await http.patch(f"/v1/posts/{post['id']}", json={"caption": "better words"}, headers=author["headers"])
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["caption"] == "better words" and edited["visibility"] == "public" and edited["edited_at"] >= post["created_at"]
    assert (await get_post(http, other, post["id"])).json()["caption"] == "better words"

    # someone who sees the post still may not edit it
    assert_error(await http.patch(f"/v1/posts/{post['id']}", json={"caption": "hijacked"}, headers=other["headers"]), 403, "not_post_owner")

    # bad input changes nothing
    for body in ({"caption": "x" * 2201}, {"visibility": "friends"}, {"caption": 5}, {"tags": []}, {"author_id": other["user"]["id"]}):
        assert_error(await http.patch(f"/v1/posts/{post['id']}", json=body, headers=author["headers"]), 400)
    assert_error(await http.patch(f"/v1/posts/{post['id']}", content=b"{", headers={**author["headers"], "content-type": "application/json"}), 400)
    assert (await get_post(http, author, post["id"])).json()["caption"] == "better words"

    r = await http.patch(f"/v1/posts/{post['id']}", json={"visibility": "private"}, headers=author["headers"])
    assert r.status_code == 200 and r.json()["visibility"] == "private" and r.json()["caption"] == "better words"
    assert_error(await get_post(http, other, post["id"]), 404, "post_not_found")
    assert (await http.patch(f"/v1/posts/{post['id']}", json={}, headers=author["headers"])).json()["visibility"] == "private"


async def test_delete_post_makes_the_video_a_draft_again(http, stores):
    author, fan = await signup(http), await signup(http)
    post = await new_post(http, stores, author, "short-lived")
    pid = post["id"]
    assert (await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])).status_code == 200
    assert (await comment(http, fan, pid, "nice")).status_code == 201
    assert (await http.post(f"/v1/posts/{pid}/share", headers=fan["headers"])).status_code == 200
    drafts = (await http.get("/v1/me/drafts", headers=author["headers"])).json()["data"]
    assert post["video_id"] not in [v["id"] for v in drafts]

    assert_error(await http.delete(f"/v1/posts/{pid}", headers=fan["headers"]), 403, "not_post_owner")
    r = await http.delete(f"/v1/posts/{pid}", headers=author["headers"])
    assert r.status_code == 200 and r.json() == {"id": pid, "object": "post.deleted", "deleted": True}
    assert_error(await get_post(http, author, pid), 404, "post_not_found")
    assert_error(await http.delete(f"/v1/posts/{pid}", headers=author["headers"]), 404, "post_not_found")
    for name in ("likes", "comments", "shares", "notifications"):
        assert await stores.db[name].count_documents({"post_id": pid}) == 0, name
    assert await stores.redis.exists(counters.cache_key(stores, pid)) == 0

    drafts = (await http.get("/v1/me/drafts", headers=author["headers"])).json()["data"]
    assert post["video_id"] in [v["id"] for v in drafts]
    again = await publish(http, author, post["video_id"], "second life")
    assert again["id"] != pid and again["counts"]["likes"] == 0


async def test_drafts_are_my_completed_unpublished_videos(http, stores):
    me, other = await signup(http), await signup(http)
    made = [await ready_video(stores, me, f"draft {i}") for i in range(5)]
    await ready_video(stores, other)
    queued = await jobs.create_job(stores, owner_id=me["user"]["id"], prompt="still cooking", model="tiny", width=64, height=64, seconds=1, steps=2)
    await publish(http, me, made[1], "out there")
    expected = [vid for vid in reversed(made) if vid != made[1]]

    for limit in (1, 2, 4, 50):
        seen, cursor = [], None
        while True:
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            r = await http.get("/v1/me/drafts", params=params, headers=me["headers"])
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["data"]) <= limit and all(v["status"] == "completed" and v["object"] == "video" for v in body["data"])
            seen += [v["id"] for v in body["data"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, limit
    assert queued.id not in seen
    # nobody else sees my drafts: not as posts, not in their drafts
    assert (await http.get("/v1/me/drafts", headers=other["headers"])).json()["data"][0]["id"] not in made
    assert await grid(http, other, me) == [p for p in await grid(http, me, me)]
    for cursor in ("zzz", MISSING_POST, "video_" + "!" * 26):
        assert_error(await http.get("/v1/me/drafts", params={"cursor": cursor}, headers=me["headers"]), 400, "invalid_cursor")


async def test_profile_grid_pages_newest_first(http, stores):
    owner, viewer = await signup(http), await signup(http)
    posts = [await new_post(http, stores, owner, f"#{i}") for i in range(5)]
    expected = [p["id"] for p in reversed(posts)]
    for limit in (1, 2, 5, 50):
        assert await grid(http, viewer, owner, limit) == expected
    assert_error(await http.get("/v1/users/nobody_here_at_all/posts", headers=viewer["headers"]), 404, "user_not_found")
    assert_error(await http.get(f"/v1/users/{owner['user']['handle']}/posts", params={"cursor": "bad"}, headers=viewer["headers"]), 400, "invalid_cursor")
    assert_error(await http.get(f"/v1/users/{owner['user']['handle']}/posts", params={"limit": 0}, headers=viewer["headers"]), 400)


# --- likes -------------------------------------------------------------------------


async def test_like_is_idempotent_and_unlike_too(http, stores):
    author, fan = await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    pid = post["id"]
    assert post["liked"] is False and post["counts"]["likes"] == 0

    for _ in range(3):
        r = await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])
        assert r.status_code == 200 and r.json() == {"post_id": pid, "liked": True, "likes": 1}
    assert await likes.count_likes(stores, pid) == 1
    seen_by_fan = (await get_post(http, fan, pid)).json()
    assert seen_by_fan["liked"] is True and seen_by_fan["counts"]["likes"] == 1
    assert (await get_post(http, author, pid)).json()["liked"] is False

    # liking my own post counts like any other
    assert (await http.post(f"/v1/posts/{pid}/like", headers=author["headers"])).json()["likes"] == 2

    for _ in range(2):
        r = await http.delete(f"/v1/posts/{pid}/like", headers=fan["headers"])
        assert r.status_code == 200 and r.json() == {"post_id": pid, "liked": False, "likes": 1}
    assert (await counters.exact_counts(stores, pid))["likes"] == 1 == await likes.count_likes(stores, pid)

    for path in (f"/v1/posts/{MISSING_POST}/like", "/v1/posts/not-a-post/like"):
        assert_error(await http.post(path, headers=fan["headers"]), 404, "post_not_found")
    assert await stores.db["likes"].count_documents({"post_id": MISSING_POST}) == 0
    assert_error(await http.post(f"/v1/posts/{pid}/like"), 401, "missing_token")


# --- comments -----------------------------------------------------------------------


async def test_comments_and_one_level_of_replies(http, stores):
    author, alice, bob = await signup(http), await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    pid = post["id"]

    first = (await comment(http, alice, pid, "first!")).json()
    assert first["object"] == "comment" and first["parent_id"] is None and first["author"]["id"] == alice["user"]["id"]
    second = (await comment(http, bob, pid, "second")).json()
    reply = (await comment(http, bob, pid, "welcome", reply_to=first["id"])).json()
    assert reply["parent_id"] == first["id"] and reply["reply_to_id"] == first["id"]
    # a reply to a reply joins the same thread, remembering whom it answered
    deeper = (await comment(http, alice, pid, "thanks\nbob", reply_to=reply["id"])).json()
    assert deeper["parent_id"] == first["id"] and deeper["reply_to_id"] == reply["id"] and deeper["text"] == "thanks\nbob"

    top = (await http.get(f"/v1/posts/{pid}/comments", headers=author["headers"])).json()
    assert [c["id"] for c in top["data"]] == [second["id"], first["id"]] and top["next_cursor"] is None
    assert {c["id"]: c["reply_count"] for c in top["data"]} == {second["id"]: 0, first["id"]: 2}
    replies = (await http.get(f"/v1/comments/{first['id']}/replies", headers=author["headers"])).json()
    assert [c["id"] for c in replies["data"]] == [reply["id"], deeper["id"]]
    assert_error(await http.get(f"/v1/comments/{reply['id']}/replies", headers=author["headers"]), 400, "not_top_level")
    assert (await counts(http, author, pid))["comments"] == 4

    # pages
    page1 = (await http.get(f"/v1/posts/{pid}/comments", params={"limit": 1}, headers=author["headers"])).json()
    page2 = (await http.get(f"/v1/posts/{pid}/comments", params={"limit": 1, "cursor": page1["next_cursor"]}, headers=author["headers"])).json()
    assert [c["id"] for c in page1["data"] + page2["data"]] == [second["id"], first["id"]]
    r1 = (await http.get(f"/v1/comments/{first['id']}/replies", params={"limit": 1}, headers=author["headers"])).json()
    r2 = (await http.get(f"/v1/comments/{first['id']}/replies", params={"limit": 1, "cursor": r1["next_cursor"]}, headers=author["headers"])).json()
    assert [c["id"] for c in r1["data"] + r2["data"]] == [reply["id"], deeper["id"]] and r2["next_cursor"] is None


async def test_who_may_delete_which_comment(http, stores):
    author, alice, bob, carol = [await signup(http) for _ in range(4)]
    post = await new_post(http, stores, author)
    pid = post["id"]
    thread = (await comment(http, alice, pid, "a thread")).json()
    reply = (await comment(http, bob, pid, "a reply", reply_to=thread["id"])).json()
    lone = (await comment(http, carol, pid, "alone")).json()

    # neither a bystander nor a replier may delete someone else's comment
    for user, target in ((carol, thread), (bob, thread), (alice, reply), (alice, lone)):
        assert_error(await http.delete(f"/v1/comments/{target['id']}", headers=user["headers"]), 403, "not_comment_owner")
    assert (await counts(http, author, pid))["comments"] == 3

    # my own comment: a thread with replies stays as a tombstone, its replies readable
    r = await http.delete(f"/v1/comments/{thread['id']}", headers=alice["headers"])
    assert r.status_code == 200 and r.json() == {"id": thread["id"], "object": "comment.deleted", "deleted": True}
    assert_error(await http.delete(f"/v1/comments/{thread['id']}", headers=alice["headers"]), 404, "comment_not_found")
    top = {c["id"]: c for c in (await http.get(f"/v1/posts/{pid}/comments", headers=bob["headers"])).json()["data"]}
    assert top[thread["id"]]["deleted"] is True and top[thread["id"]]["text"] == "" and top[thread["id"]]["author"] is None
    assert [c["id"] for c in (await http.get(f"/v1/comments/{thread['id']}/replies", headers=bob["headers"])).json()["data"]] == [reply["id"]]
    assert_error(await comment(http, carol, pid, "late reply", reply_to=thread["id"]), 404, "comment_not_found")
    assert (await counts(http, author, pid))["comments"] == 2

    # the post's author may delete any comment on it; the last reply takes the tombstone along
    assert (await http.delete(f"/v1/comments/{reply['id']}", headers=author["headers"])).status_code == 200
    assert (await http.delete(f"/v1/comments/{lone['id']}", headers=author["headers"])).status_code == 200
    assert (await http.get(f"/v1/posts/{pid}/comments", headers=bob["headers"])).json()["data"] == []
    assert await stores.db["comments"].count_documents({"post_id": pid}) == 0
    assert (await counts(http, author, pid))["comments"] == 0 == await feed_comments.count_live(stores, pid)

    for cid in (thread["id"], "comment_01jzzzzzzzzzzzzzzzzzzzzzzz", "nope"):
        assert_error(await http.delete(f"/v1/comments/{cid}", headers=author["headers"]), 404, "comment_not_found")


BAD_COMMENTS = [
    ("empty", {"text": ""}),
    ("blank", {"text": "  \n\t "}),
    ("invisible only", {"text": "\ufeff\u200b \u00ad\u3164"}),  # a BOM, a zero-width space, a soft hyphen, a Hangul filler
    ("too long", {"text": "é" * 1001}),
    ("control character", {"text": "bell\x07"}),
    ("text wrong type", {"text": 5}),
    ("missing text", {}),
    ("unknown field", {"text": "hi", "author_id": "user_x"}),
    ("reply_to wrong type", {"text": "hi", "reply_to": 3}),
    ("reply_to empty", {"text": "hi", "reply_to": ""}),
]


async def test_bad_comments_write_nothing(http, stores):
    author, other = await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    elsewhere = await new_post(http, stores, author)
    foreign = (await comment(http, other, elsewhere["id"], "over there")).json()
    for name, body in BAD_COMMENTS:
        assert_error(await http.post(f"/v1/posts/{post['id']}/comments", json=body, headers=other["headers"]), 400), name
    for raw in (b"{", b"null", b"[]", b""):
        r = await http.post(f"/v1/posts/{post['id']}/comments", content=raw, headers={**other["headers"], "content-type": "application/json"})
        assert_error(r, 400)
    # replying to an unknown comment, or to a comment of another post
    for reply_to in ("comment_01jzzzzzzzzzzzzzzzzzzzzzzz", foreign["id"]):
        assert_error(await comment(http, other, post["id"], "hi", reply_to=reply_to), 404, "comment_not_found")
    assert await stores.db["comments"].count_documents({"post_id": post["id"]}) == 0
    assert (await counts(http, author, post["id"]))["comments"] == 0
    longest = (await comment(http, other, post["id"], "é" * 1000)).json()
    assert len(longest["text"]) == 1000


# --- shares and views -------------------------------------------------------------------


async def test_share_link_and_count(http, stores):
    author, a, b = await signup(http), await signup(http), await signup(http)
    post = await new_post(http, stores, author, "share me")
    pid = post["id"]
    first = (await http.post(f"/v1/posts/{pid}/share", headers=a["headers"])).json()
    assert first["post_id"] == pid and first["url"].endswith(f"/p/{pid}") and first["shares"] == 1
    assert (await http.post(f"/v1/posts/{pid}/share", headers=a["headers"])).json()["shares"] == 1  # once per person
    assert (await http.post(f"/v1/posts/{pid}/share", headers=b["headers"])).json()["shares"] == 2
    assert (await counts(http, author, pid))["shares"] == 2

    # the link opens without signing in, for public posts only
    shared = await http.get(f"/p/{pid}")
    assert shared.status_code == 200 and shared.json()["id"] == pid and shared.json()["caption"] == "share me"
    hidden = await new_post(http, stores, author, visibility="followers")
    assert_error(await http.get(f"/p/{hidden['id']}"), 404, "post_not_found")
    assert_error(await http.get(f"/p/{MISSING_POST}"), 404, "post_not_found")


async def test_views_count_watch_time_and_completions(http, stores):
    author = await signup(http)
    viewers = [await signup(http) for _ in range(3)]
    viewer = viewers[0]
    post = await new_post(http, stores, author)  # a 1 s clip: a view counts at most 1000 ms
    pid = post["id"]
    for who, (watch_ms, completed) in zip(viewers, ((600, False), (3000, True), (0, False))):
        r = await http.post(f"/v1/posts/{pid}/view", json={"watch_ms": watch_ms, "completed": completed}, headers=who["headers"])
        assert r.status_code == 200, r.text
    assert r.json() == {"post_id": pid, "views": 3}
    again = await http.post(f"/v1/posts/{pid}/view", json={"watch_ms": 900, "completed": True}, headers=viewer["headers"])
    assert again.json() == {"post_id": pid, "views": 3}  # once per viewer and post in the window
    exact = await counters.exact_counts(stores, pid)
    assert (exact["views"], exact["watch_ms"], exact["completes"]) == (3, 1600, 1)
    from feed.social import views

    assert await views.seen_among(stores, viewer["user"]["id"], [pid, MISSING_POST]) == {pid}
    for body in ({"watch_ms": -1}, {"watch_ms": 3_600_001}, {"watch_ms": 1.5}, {"watch_ms": "ten"}, {"watch_ms": None}, {}, {"watch_ms": 5, "completed": "yes"}, {"watch_ms": 5, "extra": 1}):
        assert_error(await http.post(f"/v1/posts/{pid}/view", json=body, headers=viewer["headers"]), 400)
    assert (await counters.exact_counts(stores, pid))["views"] == 3


# --- remixes -------------------------------------------------------------------------------


async def test_remix_chain_reads_both_ways(http, stores):
    alice, bob, carol = await signup(http), await signup(http), await signup(http)
    root = await new_post(http, stores, alice, "the original")
    # bob's remix is made from alice's video: publishing it links the posts by itself
    middle = await new_post(http, stores, bob, "a twist", remixed_from=root["video_id"])
    assert middle["remix_of"] == root["id"]
    leaf = await new_post(http, stores, carol, "a twist on the twist", remixed_from=middle["video_id"])
    sibling = await new_post(http, stores, carol, "another take", remixed_from=root["video_id"])
    assert (await counts(http, alice, root["id"]))["remixes"] == 2
    assert (await counts(http, alice, middle["id"]))["remixes"] == 1

    children = (await http.get(f"/v1/posts/{root['id']}/remixes", headers=bob["headers"])).json()
    assert [p["id"] for p in children["data"]] == [sibling["id"], middle["id"]]
    chain = (await http.get(f"/v1/posts/{leaf['id']}/chain", headers=alice["headers"])).json()
    assert [p["id"] for p in chain["data"]] == [middle["id"], root["id"]] and chain["complete"] is True
    assert (await http.get(f"/v1/posts/{root['id']}/chain", headers=alice["headers"])).json()["data"] == []

    # an explicit remix_of: only for videos made as remixes, and only of a post I may see
    plain = await ready_video(stores, bob)
    assert_error(await http.post("/v1/posts", json={"video_id": plain, "remix_of": root["id"]}, headers=bob["headers"]), 400, "not_a_remix")
    private = await new_post(http, stores, alice, visibility="private")
    remix_vid = await ready_video(stores, bob, remixed_from=root["video_id"])
    assert_error(await http.post("/v1/posts", json={"video_id": remix_vid, "remix_of": private["id"]}, headers=bob["headers"]), 404, "post_not_found")
    assert_error(await http.post("/v1/posts", json={"video_id": remix_vid, "remix_of": MISSING_POST}, headers=bob["headers"]), 404, "post_not_found")
    assert await stores.db["posts"].count_documents({"video_id": remix_vid}) == 0
    # ... and only of the post of the video it was made from
    assert_error(await http.post("/v1/posts", json={"video_id": remix_vid, "remix_of": middle["id"]}, headers=bob["headers"]), 400, "not_remix_source")
    from_middle = await ready_video(stores, bob, remixed_from=middle["video_id"])
    explicit = await publish_with(http, bob, from_middle, remix_of=middle["id"])
    assert explicit["remix_of"] == middle["id"]
    assert (await counts(http, alice, middle["id"]))["remixes"] == 2

    # a remix of a source that is hidden from the remixer stands alone
    hidden_src = await new_post(http, stores, alice, visibility="private")
    lone = await new_post(http, stores, bob, remixed_from=hidden_src["video_id"])
    assert lone["remix_of"] is None and (await counts(http, alice, hidden_src["id"]))["remixes"] == 0

    # deleting a remix counts one fewer; deleting a source leaves the chain ending there
    assert (await http.delete(f"/v1/posts/{sibling['id']}", headers=carol["headers"])).status_code == 200
    assert (await counts(http, alice, root["id"]))["remixes"] == 1
    assert (await http.delete(f"/v1/posts/{middle['id']}", headers=bob["headers"])).status_code == 200
    chain = (await http.get(f"/v1/posts/{leaf['id']}/chain", headers=alice["headers"])).json()
    assert chain["data"] == [] and chain["complete"] is False


async def publish_with(http: httpx.AsyncClient, user: dict, video_id: str, **fields) -> dict:
    r = await http.post("/v1/posts", json={"video_id": video_id, **fields}, headers=user["headers"])
    assert r.status_code == 201, r.text
    return r.json()


async def test_chain_stops_at_an_ancestor_hidden_from_me(http, stores):
    alice, bob, carol = await signup(http), await signup(http), await signup(http)
    root = await new_post(http, stores, alice)
    middle = await new_post(http, stores, bob, remixed_from=root["video_id"])
    leaf = await new_post(http, stores, carol, remixed_from=middle["video_id"])
    await block(http, bob, carol)  # carol can no longer see bob's post
    chain = (await http.get(f"/v1/posts/{leaf['id']}/chain", headers=carol["headers"])).json()
    assert chain["data"] == [] and chain["complete"] is False
    chain = (await http.get(f"/v1/posts/{leaf['id']}/chain", headers=alice["headers"])).json()
    assert [p["id"] for p in chain["data"]] == [middle["id"], root["id"]] and chain["complete"] is True


async def test_real_remix_video_published_end_to_end(http, stores, worker):
    """A video the worker really made, published and remixed through the Videos API's lineage."""
    alice, bob = await signup(http), await signup(http)
    [vid] = await completed_videos(http, alice, 1)
    source = await publish(http, alice, vid, "the real thing")
    remix_vid = await ready_video(stores, bob, remixed_from=vid)
    remix = await publish_with(http, bob, remix_vid, caption="my version")
    assert remix["remix_of"] == source["id"]
    content = await http.get(source["content_url"], headers=bob["headers"])
    assert content.status_code == 200 and content.content[4:8] == b"ftyp"


# --- blocks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("blocker", ["author", "fan"])
async def test_a_block_stops_likes_comments_and_hides_comments(http, stores, blocker):
    author, fan, bystander = await signup(http), await signup(http), await signup(http)
    post = await new_post(http, stores, author)
    pid = post["id"]
    thread = (await comment(http, bystander, pid, "hello all")).json()
    fans = (await comment(http, fan, pid, "before the block")).json()
    assert (await http.post(f"/v1/posts/{pid}/like", headers=fan["headers"])).status_code == 200

    actor, target = (author, fan) if blocker == "author" else (fan, author)
    await block(http, actor, target)

    for method, path, body in [
        ("POST", f"/v1/posts/{pid}/like", None),
        ("POST", f"/v1/posts/{pid}/comments", {"text": "let me in"}),
        ("POST", f"/v1/posts/{pid}/share", None),
        ("GET", f"/v1/posts/{pid}", None),
    ]:
        assert_error(await http.request(method, path, json=body, headers=fan["headers"]), 404, "post_not_found")
    assert_error(await http.get(f"/v1/users/{author['user']['handle']}/posts", headers=fan["headers"]), 404, "user_not_found")
    # a thread under the post (a third person's) is out of reach with the post
    assert_error(await http.get(f"/v1/comments/{thread['id']}/replies", headers=fan["headers"]), 404, "comment_not_found")
    assert (await http.get(f"/v1/comments/{thread['id']}/replies", headers=bystander["headers"])).status_code == 200

    # the blocked pair do not see each other's comments elsewhere either
    other_post = await new_post(http, stores, bystander)
    mine = (await comment(http, fan, other_post["id"], "fan was here")).json()
    authors = (await comment(http, author, other_post["id"], "author was here")).json()
    seen_by_author = [c["id"] for c in (await http.get(f"/v1/posts/{other_post['id']}/comments", headers=author["headers"])).json()["data"]]
    assert mine["id"] not in seen_by_author and authors["id"] in seen_by_author
    seen_by_bystander = [c["id"] for c in (await http.get(f"/v1/posts/{other_post['id']}/comments", headers=bystander["headers"])).json()["data"]]
    assert {mine["id"], authors["id"]} <= set(seen_by_bystander)
    # nor reply to each other
    assert_error(await comment(http, fan, other_post["id"], "psst", reply_to=authors["id"]), 404, "comment_not_found")

    # the fan may still delete their own comment on the hidden post; their like stays counted until they do
    assert (await http.delete(f"/v1/comments/{fans['id']}", headers=fan["headers"])).status_code == 200
    assert (await counts(http, author, pid))["comments"] == 1
    assert thread["id"] in [c["id"] for c in (await http.get(f"/v1/posts/{pid}/comments", headers=author["headers"])).json()["data"]]


async def test_a_thread_under_a_blocked_persons_comment_is_hidden_with_it(http, stores):
    """B comments on a third person's post and its owner replies; once I block
    B, B's comment is out of my lists, and so is everything that reaches it by
    id: its replies, a reply to a reply in its thread, a report, a delete (404,
    not 403, which would say it exists). Others still read the thread."""
    me, b, owner = await signup(http), await signup(http), await signup(http)
    post = await new_post(http, stores, owner)
    pid = post["id"]
    bs = (await comment(http, b, pid, "first!")).json()
    answer = (await comment(http, owner, pid, "welcome", reply_to=bs["id"])).json()
    await block(http, me, b)

    assert bs["id"] not in [c["id"] for c in (await http.get(f"/v1/posts/{pid}/comments", headers=me["headers"])).json()["data"]]
    for r in [
        await http.get(f"/v1/comments/{bs['id']}/replies", headers=me["headers"]),
        await comment(http, me, pid, "to the owner", reply_to=answer["id"]),
        await comment(http, me, pid, "to b", reply_to=bs["id"]),
        await http.post(f"/v1/comments/{answer['id']}/report", json={"reason": "spam"}, headers=me["headers"]),
        await http.post(f"/v1/comments/{bs['id']}/report", json={"reason": "spam"}, headers=me["headers"]),
        await http.delete(f"/v1/comments/{bs['id']}", headers=me["headers"]),
        await http.delete(f"/v1/comments/{answer['id']}", headers=me["headers"]),
    ]:
        assert_error(r, 404, "comment_not_found")
    assert (await counts(http, owner, pid))["comments"] == 2  # nothing was added or removed
    # others read the thread and answer in it; the owner may still delete in it on their post
    replies = await http.get(f"/v1/comments/{bs['id']}/replies", headers=owner["headers"])
    assert replies.status_code == 200 and [c["id"] for c in replies.json()["data"]] == [answer["id"]]
    assert (await comment(http, owner, pid, "and again", reply_to=answer["id"])).status_code == 201
    # a deleted comment kept for its replies hides nobody: once B's is deleted, its thread reads on for me too
    assert (await http.delete(f"/v1/comments/{bs['id']}", headers=b["headers"])).status_code == 200
    replies = await http.get(f"/v1/comments/{bs['id']}/replies", headers=me["headers"])
    assert replies.status_code == 200 and answer["id"] in [c["id"] for c in replies.json()["data"]], replies.text


async def test_replies_under_a_private_accounts_post_wait_for_an_approved_follow(http, stores):
    owner, asker = await signup(http), await signup(http)
    r = await http.patch("/v1/me", json={"private": True}, headers=owner["headers"])
    assert r.status_code == 200 and r.json()["private"] is True, r.text
    post = await new_post(http, stores, owner, "for my followers", visibility="followers")
    top = (await comment(http, owner, post["id"], "welcome")).json()
    reply = (await comment(http, owner, post["id"], "all of you", reply_to=top["id"])).json()
    await follow(http, asker, owner)  # on a private account: a request, not yet a follow
    answer = await http.get(f"/v1/comments/{top['id']}/replies", headers=asker["headers"])
    assert_error(answer, 404, "comment_not_found")
    r = await http.post(f"/v1/me/follow-requests/{asker['user']['handle']}/approve", headers=owner["headers"])
    assert r.status_code == 200, r.text
    answer = await http.get(f"/v1/comments/{top['id']}/replies", headers=asker["headers"])
    assert answer.status_code == 200 and [c["id"] for c in answer.json()["data"]] == [reply["id"]], answer.text


async def test_routes_need_a_token(http):
    me = await signup(http)
    for method, path in [
        ("POST", f"/v1/posts/{MISSING_POST}/like"),
        ("DELETE", f"/v1/posts/{MISSING_POST}/like"),
        ("GET", f"/v1/posts/{MISSING_POST}/comments"),
        ("POST", f"/v1/posts/{MISSING_POST}/comments"),
        ("DELETE", "/v1/comments/comment_x"),
        ("GET", "/v1/comments/comment_x/replies"),
        ("POST", f"/v1/posts/{MISSING_POST}/share"),
        ("POST", f"/v1/posts/{MISSING_POST}/view"),
        ("GET", f"/v1/posts/{MISSING_POST}/remixes"),
        ("GET", f"/v1/posts/{MISSING_POST}/chain"),
        ("PATCH", f"/v1/posts/{MISSING_POST}"),
        ("DELETE", f"/v1/posts/{MISSING_POST}"),
        ("GET", f"/v1/users/{me['user']['handle']}/posts"),
        ("GET", "/v1/me/drafts"),
        ("GET", "/v1/notifications"),
        ("POST", "/v1/notifications/read"),
    ]:
        assert_error(await http.request(method, path), 401, "missing_token")


async def test_concurrent_comment_and_thread_delete_keep_the_count_exact(http, stores):
    author, fans = await signup(http), [await signup(http) for _ in range(4)]
    post = await new_post(http, stores, author)
    pid = post["id"]
    threads = [(await comment(http, fans[i], pid, f"thread {i}")).json() for i in range(4)]
    calls = []
    for i, thread in enumerate(threads):
        calls += [comment(http, fans[(i + 1) % 4], pid, "reply", reply_to=thread["id"]) for _ in range(2)]
        calls.append(http.delete(f"/v1/comments/{thread['id']}", headers=fans[i]["headers"]))
    answers = await asyncio.gather(*calls)
    assert all(r.status_code in (200, 201, 404) for r in answers), [r.text for r in answers]
    live = await feed_comments.count_live(stores, pid)
    assert (await counters.exact_counts(stores, pid))["comments"] == live == (await counts(http, author, pid))["comments"]
    # every reply that was accepted can be read under its (tombstoned) thread
    accepted = {r.json()["id"] for r in answers if r.status_code == 201}
    readable = set()
    for thread in threads:
        page = await http.get(f"/v1/comments/{thread['id']}/replies", params={"limit": 50}, headers=author["headers"])
        if page.status_code == 200:
            readable |= {c["id"] for c in page.json()["data"]}
    assert accepted == readable
