"""Reports and the moderators' queue over HTTP against the live api: who may
report what, one report per person and object, the admin-only queue, and
each action (remove and restore a post, remove a comment, suspend a user,
revoke a cameo, dismiss) with its notifications; the report and comment
limits answer 429 with Retry-After."""

from __future__ import annotations

import httpx
import pytest

from accounts import admins
from cameos import store as cameo_store
from core.media_store import open_media_store
from tests.conftest import signup
from tests.procs import start_api
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_social import block, comment, new_post

MISSING_POST = "post_01jzzzzzzzzzzzzzzzzzzzzzzz"


async def admin_user(http: httpx.AsyncClient, stores) -> dict:
    me = await signup(http)
    assert await admins.set_admin(stores, me["user"]["handle"], True) is not None
    return me


async def report(http: httpx.AsyncClient, who: dict, path: str, reason: str = "spam", text: str = "") -> httpx.Response:
    return await http.post(f"{path}/report", json={"reason": reason, "text": text}, headers=who["headers"])


async def queue(http: httpx.AsyncClient, admin: dict, state: str = "open") -> list[dict]:
    r = await http.get("/v1/admin/reports", params={"state": state, "limit": 50}, headers=admin["headers"])
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def act(http: httpx.AsyncClient, admin: dict, report_id: str, action: str, note: str = "") -> httpx.Response:
    return await http.post(f"/v1/admin/reports/{report_id}/action", json={"action": action, "note": note}, headers=admin["headers"])


async def kinds_of(http: httpx.AsyncClient, who: dict) -> list[str]:
    r = await http.get("/v1/notifications", params={"limit": 50}, headers=who["headers"])
    assert r.status_code == 200, r.text
    return [n["kind"] for n in r.json()["data"]]


async def test_a_report_is_made_once_and_refuses_bad_bodies(http, stores):
    author, reporter = await signup(http), await signup(http)
    p = await new_post(http, stores, author)
    first = await report(http, reporter, f"/v1/posts/{p['id']}", "violence", "gore in the second half")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["target_kind"] == "post" and body["state"] == "open" and body["reason"] == "violence" and body["repeated"] is False
    again = await report(http, reporter, f"/v1/posts/{p['id']}", "spam", "again")
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["reason"] == "violence"
    assert again.json()["repeated"] is True
    same = await report(http, reporter, f"/v1/posts/{p['id']}", "violence", "gore in the second half")  # word for word
    assert same.status_code == 200 and same.json() == {**body, "repeated": True}
    other = await report(http, author, f"/v1/posts/{p['id']}", "violence", "gore in the second half")  # someone else: new
    assert other.status_code == 200 and other.json()["repeated"] is False and other.json()["id"] != body["id"]
    assert_error(await report(http, reporter, f"/v1/posts/{p['id']}", "boring"), 400)
    assert_error(await report(http, reporter, f"/v1/posts/{p['id']}", "spam", "bad\x07bell"), 400)
    assert_error(await report(http, reporter, f"/v1/posts/{p['id']}", "spam", "x" * 1001), 400)
    r = await http.post(f"/v1/posts/{p['id']}/report", json={"reason": "spam", "extra": 1}, headers=reporter["headers"])
    assert_error(r, 400)
    assert (await http.post(f"/v1/posts/{p['id']}/report", json={"reason": "spam"})).status_code == 401


async def test_nothing_the_reporter_cannot_see_can_be_reported(http, stores):
    author, stranger, blocked = await signup(http), await signup(http), await signup(http)
    private = await new_post(http, stores, author, visibility="private")
    public = await new_post(http, stores, author)
    c = (await comment(http, author, public["id"], "mine")).json()
    await block(http, author, blocked)
    assert_error(await report(http, stranger, f"/v1/posts/{private['id']}"), 404, "post_not_found")
    assert_error(await report(http, stranger, f"/v1/posts/{MISSING_POST}"), 404, "post_not_found")
    assert_error(await report(http, blocked, f"/v1/posts/{public['id']}"), 404, "post_not_found")
    assert_error(await report(http, blocked, f"/v1/comments/{c['id']}"), 404, "comment_not_found")
    assert_error(await report(http, blocked, f"/v1/users/{author['user']['handle']}"), 404)
    assert_error(await report(http, stranger, "/v1/users/nobody_here_zz"), 404)
    assert_error(await report(http, stranger, "/v1/cameos/cameo_01jzzzzzzzzzzzzzzzzzzzzzzz"), 404)
    assert (await report(http, stranger, f"/v1/comments/{c['id']}", "harassment")).status_code == 200
    assert (await report(http, stranger, f"/v1/users/{author['user']['handle']}", "hate")).status_code == 200


async def test_a_cameo_across_a_block_cannot_be_reported(http, stores, settings):
    """A cameo whose owner blocked the reporter (or whom the reporter blocked)
    answers 404 ``cameo_not_found``, as an unknown one, and no report is written."""
    owner, blocked, blocker, stranger = [await signup(http) for _ in range(4)]
    cameo = await cameo_store.create_cameo(
        stores, open_media_store(settings), owner_id=owner["user"]["id"], kind="human", name="me", mention=None,
        embedding=[0.1] * 128, frames=[b"\xff\xd8frame"], voice=None,
    )
    await block(http, owner, blocked)
    await block(http, blocker, owner)
    for who in (blocked, blocker):
        r = await report(http, who, f"/v1/cameos/{cameo.id}", "likeness", "not their face")
        assert_error(r, 404, "cameo_not_found")
        assert await stores.db["reports"].count_documents({"reporter_id": who["user"]["id"]}) == 0
    r = await report(http, stranger, f"/v1/cameos/{cameo.id}", "likeness", "not their face")
    assert r.status_code == 200 and r.json()["target_kind"] == "cameo" and r.json()["target_id"] == cameo.id, r.text


async def test_the_queue_and_the_audit_log_are_for_admins_only(http, stores):
    someone = await signup(http)
    for method, path, body in (
        ("GET", "/v1/admin/reports", None),
        ("GET", "/v1/admin/audit", None),
        ("POST", "/v1/admin/reports/report_01jzzzzzzzzzzzzzzzzzzzzzzz/action", {"action": "dismiss"}),
    ):
        assert (await http.request(method, path, json=body)).status_code == 401
        assert_error(await http.request(method, path, json=body, headers=someone["headers"]), 403, "not_admin")
    admin = await admin_user(http, stores)
    r = await act(http, admin, "report_01jzzzzzzzzzzzzzzzzzzzzzzz", "dismiss")
    assert_error(r, 404, "report_not_found")
    err = assert_error(await http.get("/v1/admin/reports", params={"state": "weird"}, headers=admin["headers"]), 400, "invalid_request")
    assert [d["field"] for d in err["details"]] == ["state"]  # the query parameter's name, not the handler's


async def test_remove_takes_a_post_down_and_restore_brings_it_back(http, stores):
    author, r1, r2, viewer = await signup(http), await signup(http), await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    p = await new_post(http, stores, author, caption="look")
    assert (await comment(http, viewer, p["id"], "nice")).status_code in (200, 201)
    first = (await report(http, r1, f"/v1/posts/{p['id']}", "sexual")).json()
    second = (await report(http, r2, f"/v1/posts/{p['id']}", "minors")).json()
    assert {first["id"], second["id"]} <= {q["id"] for q in await queue(http, admin)}

    done = await act(http, admin, first["id"], "remove", "nudity at 0:02")
    assert done.status_code == 200, done.text
    assert done.json()["closed"] == 2 and done.json()["report"]["state"] == "actioned"
    open_ids = {q["id"] for q in await queue(http, admin)}
    assert first["id"] not in open_ids and second["id"] not in open_ids
    assert second["id"] in {q["id"] for q in await queue(http, admin, "actioned")}

    for who in (viewer, author):
        assert_error(await http.get(f"/v1/posts/{p['id']}", headers=who["headers"]), 410, "post_removed")
        assert_error(await http.get(f"/v1/posts/{p['id']}/content", headers=who["headers"]), 410, "post_removed")
    assert_error(await http.get(f"/v1/posts/{p['id']}/comments", headers=viewer["headers"]), 404)
    grid = await http.get(f"/v1/users/{author['user']['handle']}/posts", headers=viewer["headers"])
    assert p["id"] not in [x["id"] for x in grid.json()["data"]]
    again = await http.post("/v1/posts", json={"video_id": p["video_id"]}, headers=author["headers"])
    assert_error(again, 409, "video_removed")
    # nor can it come back as a remix or an extension of its own video
    remix = await http.post(f"/v1/videos/{p['video_id']}/remix", json={"prompt": "the same again"}, headers=author["headers"])
    assert remix.status_code == 409 and remix.json()["error"]["code"] == "video_removed", remix.text
    extension = await http.post("/v1/videos/extensions", json={"prompt": "and on", "video": {"id": p["video_id"]}}, headers=author["headers"])
    assert extension.status_code == 409 and extension.json()["error"]["code"] == "video_removed", extension.text
    assert "content_removed" in await kinds_of(http, author)
    assert "report_actioned" in await kinds_of(http, r1) and "report_actioned" in await kinds_of(http, r2)
    # the moderators act as one: nobody they act on, nor any reporter, learns which of them it was
    for who in (author, r1, r2):
        page = (await http.get("/v1/notifications", params={"limit": 50}, headers=who["headers"])).json()
        notices = [n for n in page["data"] if n["kind"] in ("content_removed", "report_actioned")]
        assert notices and all(n["actor"] is None and n["post_id"] == p["id"] for n in notices), notices
        assert admin["user"]["handle"] not in str(page) and admin["user"]["id"] not in str(page)

    back = await act(http, admin, first["id"], "restore", "a swimsuit, not nudity")
    assert back.status_code == 200, back.text
    shown = await http.get(f"/v1/posts/{p['id']}", headers=viewer["headers"])
    assert shown.status_code == 200 and shown.json()["caption"] == "look" and shown.json()["counts"]["comments"] == 1
    assert_error(await act(http, admin, first["id"], "restore"), 409, "not_removed")

    log = await http.get("/v1/admin/audit", params={"limit": 50}, headers=admin["headers"])
    mine = [e for e in log.json()["data"] if e["target_id"] == p["id"]]
    assert [e["action"] for e in mine] == ["moderation.restore", "moderation.remove", "report", "report"]
    assert mine[1]["actor_id"] == admin["user"]["id"] and mine[1]["reason"] == "nudity at 0:02"


async def test_a_removed_comment_and_a_dismissed_report(http, stores):
    author, commenter, reporter = await signup(http), await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    p = await new_post(http, stores, author)
    c = (await comment(http, commenter, p["id"], "you are awful")).json()
    rep = (await report(http, reporter, f"/v1/comments/{c['id']}", "harassment")).json()
    assert_error(await act(http, admin, rep["id"], "revoke_cameo"), 400, "action_not_applicable")
    assert (await act(http, admin, rep["id"], "remove")).status_code == 200
    listed = await http.get(f"/v1/posts/{p['id']}/comments", headers=author["headers"])
    assert c["id"] not in [x["id"] for x in listed.json()["data"]]
    assert "content_removed" in await kinds_of(http, commenter)

    other = await new_post(http, stores, author)
    rep2 = (await report(http, reporter, f"/v1/posts/{other['id']}", "other", "I just dislike it")).json()
    before = await kinds_of(http, reporter)
    d = await act(http, admin, rep2["id"], "dismiss", "not against the rules")
    assert d.status_code == 200 and d.json()["report"]["state"] == "dismissed"
    assert (await http.get(f"/v1/posts/{other['id']}", headers=reporter["headers"])).status_code == 200
    assert await kinds_of(http, reporter) == before
    assert rep2["id"] in {q["id"] for q in await queue(http, admin, "dismissed")}


async def test_suspend_user_revokes_tokens_and_refuses_logins(http, stores):
    bad, reporter = await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    rep = (await report(http, reporter, f"/v1/users/{bad['user']['handle']}", "harassment")).json()
    assert (await act(http, admin, rep["id"], "suspend_user", "threats")).status_code == 200
    assert_error(await http.get("/v1/me", headers=bad["headers"]), 401)
    login = {"handle": bad["user"]["handle"], "password": "correct horse battery"}
    assert_error(await http.post("/v1/auth/login", json=login), 403, "account_suspended")
    assert_error(await http.post("/v1/auth/login", json={**login, "password": "wrong horse battery"}), 401)
    assert (await act(http, admin, rep["id"], "restore", "appeal granted")).status_code == 200
    r = await http.post("/v1/auth/login", json=login)
    assert r.status_code == 200, r.text
    # lifting a suspension that is not there is refused, as restoring a post that is not removed
    assert_error(await act(http, admin, rep["id"], "restore"), 409, "not_suspended")


async def test_suspending_an_account_that_was_deleted_is_404_and_leaves_the_report_open(http, stores):
    gone, reporter = await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    rep = (await report(http, reporter, f"/v1/users/{gone['user']['handle']}", "harassment")).json()
    r = await http.request("DELETE", "/v1/me", json={"password": "correct horse battery"}, headers=gone["headers"], timeout=180)
    assert r.status_code == 204, r.text
    assert_error(await act(http, admin, rep["id"], "suspend_user", "too late"), 404, "user_not_found")
    assert rep["id"] in [x["id"] for x in await queue(http, admin)]  # still open: nothing was done
    assert_error(await act(http, admin, rep["id"], "unsuspend_user"), 409, "not_suspended")
    assert (await act(http, admin, rep["id"], "dismiss", "account gone")).status_code == 200


async def test_a_suspension_made_from_a_comment_report_is_lifted_from_it(http, stores):
    """``restore`` on a comment report has nothing to bring back (400); ``unsuspend_user``
    lifts the suspension of the object's owner from a report of any kind."""
    author, commenter, reporter = await signup(http), await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    p = await new_post(http, stores, author)
    c = (await comment(http, commenter, p["id"], "you are awful")).json()
    rep = (await report(http, reporter, f"/v1/comments/{c['id']}", "harassment")).json()
    assert_error(await act(http, admin, rep["id"], "unsuspend_user"), 409, "not_suspended")
    assert (await act(http, admin, rep["id"], "suspend_user", "threats")).status_code == 200
    login = {"handle": commenter["user"]["handle"], "password": "correct horse battery"}
    assert_error(await http.post("/v1/auth/login", json=login), 403, "account_suspended")
    assert_error(await act(http, admin, rep["id"], "restore"), 400, "action_not_applicable")
    lifted = await act(http, admin, rep["id"], "unsuspend_user", "appeal granted")
    assert lifted.status_code == 200 and lifted.json()["report"]["action"] == "unsuspend_user", lifted.text
    assert (await http.post("/v1/auth/login", json=login)).status_code == 200
    assert_error(await act(http, admin, rep["id"], "unsuspend_user"), 409, "not_suspended")
    entries = (await http.get("/v1/admin/audit", params={"action": "moderation.unsuspend_user"}, headers=admin["headers"])).json()["data"]
    assert [e["target_id"] for e in entries] == [c["id"]] and entries[0]["reason"] == "appeal granted"
    # not an admin: refused, whatever the action
    assert_error(await act(http, reporter, rep["id"], "unsuspend_user"), 403, "not_admin")


async def test_revoke_cameo_pauses_it_and_restore_resumes_it(http, stores, settings):
    owner, reporter, post_author = await signup(http), await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    cameo = await cameo_store.create_cameo(
        stores, open_media_store(settings), owner_id=owner["user"]["id"], kind="human", name="me", mention=None,
        embedding=[0.1] * 128, frames=[b"\xff\xd8frame"], voice=None,
    )
    p = await new_post(http, stores, post_author)
    post_report = (await report(http, reporter, f"/v1/posts/{p['id']}")).json()
    assert_error(await act(http, admin, post_report["id"], "revoke_cameo"), 400, "action_not_applicable")
    rep = (await report(http, reporter, f"/v1/cameos/{cameo.id}", "likeness", "that is my face")).json()
    assert (await act(http, admin, rep["id"], "revoke_cameo")).status_code == 200
    assert (await cameo_store.get_cameo(stores, cameo.id)).paused
    assert "content_removed" in await kinds_of(http, owner)
    assert (await act(http, admin, rep["id"], "restore")).status_code == 200
    assert not (await cameo_store.get_cameo(stores, cameo.id)).paused
    # resuming a cameo that is not paused is refused, as restoring a post that is not removed
    assert_error(await act(http, admin, rep["id"], "restore"), 409, "not_paused")


@pytest.fixture(scope="module")
def tight_api(settings, tmp_root):
    proc = start_api(
        settings, tmp_root / "logs", FABULA_RATE_REPORTS="2/1h", FABULA_RATE_COMMENTS="2/1h", FABULA_RATE_SEARCH="2/1h",
        FABULA_RATE_BLOCK_LIST="2/1h",
    )
    yield proc
    proc.stop()


async def test_reports_and_comments_are_rate_limited(tight_api, stores):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=30) as http:
        author, me = await signup(http), await signup(http)
        posts = [await new_post(http, stores, author) for _ in range(3)]
        # refused reports do not count: an unknown post, a reason not on the list
        assert_error(await report(http, me, "/v1/posts/post_01jzzzzzzzzzzzzzzzzzzzzzzz"), 404)
        assert_error(await http.post(f"/v1/posts/{posts[0]['id']}/report", json={"reason": "bogus"}, headers=me["headers"]), 400)
        for p in posts[:2]:
            assert (await report(http, me, f"/v1/posts/{p['id']}")).status_code == 200
        refused = await report(http, me, f"/v1/posts/{posts[2]['id']}")
        err = assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) > 0 and err["details"]["limit"] == "reports:user"
        for text in ("one", "two"):
            assert (await comment(http, me, posts[0]["id"], text)).status_code in (200, 201)
        refused = await comment(http, me, posts[0]["id"], "three")
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) > 0


async def test_user_search_is_rate_limited_per_user(tight_api):
    """The api with tight limits (above) also limits user search: the directory cannot be walked."""
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=30) as http:
        me, other = await signup(http), await signup(http)
        for _ in range(2):
            assert (await http.get("/v1/users", params={"q": "a"}, headers=me["headers"])).status_code == 200
        refused = await http.get("/v1/users", params={"q": "a"}, headers=me["headers"])
        err = assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) > 0 and err["details"]["limit"] == "search:user"
        assert (await http.get("/v1/users", params={"q": "a"}, headers=other["headers"])).status_code == 200  # per user


async def test_pages_of_blocked_accounts_are_rate_limited_per_user(tight_api):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=30) as http:
        me, other = await signup(http), await signup(http)
        for _ in range(2):
            assert (await http.get("/v1/me/blocks", headers=me["headers"])).status_code == 200
        refused = await http.get("/v1/me/blocks", headers=me["headers"])
        err = assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) > 0 and err["details"]["limit"] == "block-list:user"
        assert (await http.get("/v1/me/blocks", headers=other["headers"])).status_code == 200  # per user


async def test_a_deleted_account_takes_its_reports_and_tombstones_along(http, stores):
    author, reporter = await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    p = await new_post(http, stores, author)
    rep = (await report(http, reporter, f"/v1/posts/{p['id']}", "spam")).json()
    assert (await act(http, admin, rep["id"], "remove")).status_code == 200
    for who in (reporter, author):
        r = await http.request("DELETE", "/v1/me", json={"password": "correct horse battery"}, headers=who["headers"], timeout=180)
        assert r.status_code == 204, r.text
    assert await stores.db["reports"].count_documents({"reporter_id": reporter["user"]["id"]}) == 0
    assert await stores.db["removed_posts"].count_documents({"_id": p["id"]}) == 0
