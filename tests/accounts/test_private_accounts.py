"""Private accounts: a follow is a request the owner approves or declines,
and followers-only posts show to approved followers only
(accounts.follow_requests, server.routes.users; docs/PRIVATE-ACCOUNTS.md)."""

from __future__ import annotations

from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_social import new_post


def handle(user: dict) -> str:
    return user["user"]["handle"]


async def follow(http, me: dict, them: dict) -> dict:
    r = await http.post(f"/v1/users/{handle(them)}/follow", headers=me["headers"])
    assert r.status_code == 200, r.text
    return r.json()


async def make_private(http, user: dict, private: bool = True) -> dict:
    r = await http.patch("/v1/me", json={"private": private}, headers=user["headers"])
    assert r.status_code == 200 and r.json()["private"] is private, r.text
    return r.json()


async def requests_of(http, user: dict) -> list[str]:
    r = await http.get("/v1/me/follow-requests", headers=user["headers"])
    assert r.status_code == 200, r.text
    return [u["handle"] for u in r.json()["data"]]


async def kinds(http, user: dict) -> list[tuple[str, str]]:
    r = await http.get("/v1/notifications", headers=user["headers"])
    return [(n["kind"], n["actor"]["handle"]) for n in r.json()["data"]]


async def sees(http, user: dict, post_id: str) -> bool:
    r = await http.get(f"/v1/posts/{post_id}", headers=user["headers"])
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


async def test_a_follow_of_a_private_account_waits_for_approval(http, stores):
    owner, fan = await signup(http), await signup(http)
    assert (await http.get("/v1/me", headers=owner["headers"])).json()["private"] is False
    await make_private(http, owner)
    post = await new_post(http, stores, owner, caption="for my followers", visibility="followers")

    rel = await follow(http, fan, owner)
    assert (rel["following"], rel["requested"], rel["user"]["private"]) == (False, True, True)
    assert rel["user"]["followers"] == 0
    assert not await sees(http, fan, post["id"])  # asking is not following
    assert await requests_of(http, owner) == [handle(fan)]
    # asking again, or taking it back and asking again, notifies once
    await follow(http, fan, owner)
    assert (await http.delete(f"/v1/users/{handle(owner)}/follow", headers=fan["headers"])).json()["requested"] is False
    assert await requests_of(http, owner) == []
    await follow(http, fan, owner)
    assert await kinds(http, owner) == [("follow_request", handle(fan))]
    them = (await http.get(f"/v1/users/{handle(fan)}", headers=owner["headers"])).json()
    assert them["handle"] == handle(fan)
    # the relationship, read on its own (a profile's button): the pending request, both ways
    mine = (await http.get(f"/v1/users/{handle(owner)}/relationship", headers=fan["headers"])).json()
    assert (mine["following"], mine["requested"], mine["requested_by"], mine["user"]["handle"]) == (False, True, False, handle(owner))
    theirs = (await http.get(f"/v1/users/{handle(fan)}/relationship", headers=owner["headers"])).json()
    assert (theirs["followed_by"], theirs["requested"], theirs["requested_by"]) == (False, False, True)
    assert_error(await http.get("/v1/users/nobody_at_all_here/relationship", headers=fan["headers"]), 404, "user_not_found")
    assert_error(await http.get(f"/v1/users/{handle(owner)}/relationship"), 401, "missing_token")

    r = await http.post(f"/v1/me/follow-requests/{handle(fan)}/approve", headers=owner["headers"])
    assert r.status_code == 200 and r.json()["followed_by"] is True and r.json()["requested_by"] is False, r.text
    assert await requests_of(http, owner) == []
    assert await sees(http, fan, post["id"])
    assert ("follow_accepted", handle(owner)) in await kinds(http, fan)
    rel = (await http.post(f"/v1/users/{handle(owner)}/follow", headers=fan["headers"])).json()
    assert (rel["following"], rel["requested"], rel["user"]["followers"]) == (True, False, 1)
    assert_error(await http.post(f"/v1/me/follow-requests/{handle(fan)}/approve", headers=owner["headers"]), 404, "follow_request_not_found")

    # the owner removes the follower: the followers-only post is gone for them
    r = await http.delete(f"/v1/me/followers/{handle(fan)}", headers=owner["headers"])
    assert r.status_code == 200 and r.json()["followed_by"] is False
    assert not await sees(http, fan, post["id"])
    assert (await follow(http, fan, owner))["requested"] is True  # and must ask again


async def test_declined_requests_and_strangers_see_nothing_for_followers(http, stores):
    owner, fan, stranger = await signup(http), await signup(http), await signup(http)
    await make_private(http, owner)
    post = await new_post(http, stores, owner, visibility="followers")
    public = await new_post(http, stores, owner, visibility="public")
    await follow(http, fan, owner)
    r = await http.post(f"/v1/me/follow-requests/{handle(fan)}/decline", headers=owner["headers"])
    assert r.status_code == 200 and r.json()["requested_by"] is False
    assert_error(await http.post(f"/v1/me/follow-requests/{handle(fan)}/decline", headers=owner["headers"]), 404)
    assert_error(await http.post(f"/v1/me/follow-requests/{handle(stranger)}/approve", headers=owner["headers"]), 404)
    for who in (fan, stranger):
        assert not await sees(http, who, post["id"])
        assert await sees(http, who, public["id"])  # a public post stays public
        grid = await http.get(f"/v1/users/{handle(owner)}/posts", headers=who["headers"])
        assert [p["id"] for p in grid.json()["data"]] == [public["id"]]
    assert ("follow_accepted", handle(owner)) not in await kinds(http, fan)


async def test_going_public_approves_waiting_requests(http, stores):
    owner, a, b = await signup(http), await signup(http), await signup(http)
    await make_private(http, owner)
    await follow(http, a, owner)
    await follow(http, b, owner)
    me = await make_private(http, owner, False)
    assert me["followers"] == 2
    assert await requests_of(http, owner) == []
    assert ("follow_accepted", handle(owner)) in await kinds(http, a)
    # a public account is followed at once
    c = await signup(http)
    rel = await follow(http, c, owner)
    assert (rel["following"], rel["requested"]) == (True, False)


async def test_a_follower_removed_and_let_in_again_is_told_again(http, stores):
    """Each approval tells the requester, by the owner's answer or by going
    public: one who was let in, removed and asked again hears it again (it
    was sent once per requester for good)."""
    owner, q = await signup(http), await signup(http)
    await make_private(http, owner)

    async def let_in_again(by_going_public: bool) -> None:
        await follow(http, q, owner)
        if by_going_public:
            await make_private(http, owner, False)
            await make_private(http, owner)
        else:
            r = await http.post(f"/v1/me/follow-requests/{handle(q)}/approve", headers=owner["headers"])
            assert r.status_code == 200 and r.json()["followed_by"] is True, r.text
        r = await http.delete(f"/v1/me/followers/{handle(q)}", headers=owner["headers"])
        assert r.status_code == 200, r.text

    for n, by_going_public in enumerate((False, False, True), start=1):
        await let_in_again(by_going_public)
        assert (await kinds(http, q)).count(("follow_accepted", handle(owner))) == n


async def test_a_block_drops_requests(http, stores):
    owner, fan = await signup(http), await signup(http)
    await make_private(http, owner)
    await follow(http, fan, owner)
    assert (await http.post(f"/v1/users/{handle(fan)}/block", headers=owner["headers"])).status_code == 200
    assert await requests_of(http, owner) == []
    await http.delete(f"/v1/users/{handle(fan)}/block", headers=owner["headers"])
    assert await requests_of(http, owner) == []
    assert await stores.db.follow_requests.count_documents({"target": owner["user"]["id"]}) == 0
