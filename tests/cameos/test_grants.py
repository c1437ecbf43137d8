"""cameos.grants (the request/approve/decline/revoke graph) and
cameos.resolve (mentions to cameos, with the facts read from Mongo), against
the real servers."""

from __future__ import annotations

import pytest

from cameos import appearances, deletion, grants, indexes, resolve, store
from core.errors import FabulaError
from core.media_store import LocalMediaStore
from tests.cameos.helpers import block, character, follow, human_cameo, mutual, new_user


@pytest.fixture(scope="module")
async def ready(stores):
    await indexes.ensure(stores)
    return stores


@pytest.fixture
def media(tmp_path):
    return LocalMediaStore(tmp_path / "media")


async def _request(stores, cameo, user):
    return await grants.request(stores, cameo_id=cameo.id, owner_id=cameo.owner_id, user_id=user.id)


async def _decide(stores, cameo, user, action):
    return await grants.decide(stores, cameo_id=cameo.id, user_id=user.id, action=action)


# --- grants ---------------------------------------------------------------------------


async def test_request_approve_revoke_and_ask_again(ready, media):
    owner, fan = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner)
    grant, changed = await _request(ready, cameo, fan)
    assert changed and grant.state == "requested" and grant.id == f"{cameo.id}:{fan.id}" and grant.decided_at is None
    again, changed = await _request(ready, cameo, fan)
    assert not changed and again == grant  # asking twice is one request
    assert not await grants.is_approved(ready, cameo.id, fan.id)

    approved = await _decide(ready, cameo, fan, "approve")
    assert approved.state == "approved" and approved.decided_at is not None and approved.k > grant.k
    assert await grants.is_approved(ready, cameo.id, fan.id)
    assert (await _request(ready, cameo, fan)) == (approved, False)  # asking when approved changes nothing

    revoked = await _decide(ready, cameo, fan, "revoke")
    assert revoked.state == "revoked" and not await grants.is_approved(ready, cameo.id, fan.id)
    asked, changed = await _request(ready, cameo, fan)
    assert changed and asked.state == "requested"
    declined = await _decide(ready, cameo, fan, "decline")
    assert declined.state == "declined"
    # the owner may change their mind
    assert (await _decide(ready, cameo, fan, "approve")).state == "approved"


@pytest.mark.parametrize(
    "start, action",
    [("requested", "revoke"), ("approved", "decline"), ("approved", "approve"), ("declined", "revoke"), ("revoked", "decline")],
)
async def test_moves_that_do_not_apply_are_409(ready, media, start, action):
    owner, fan = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner)
    await _request(ready, cameo, fan)
    path = {"requested": [], "approved": ["approve"], "declined": ["decline"], "revoked": ["approve", "revoke"]}[start]
    for step in path:
        await _decide(ready, cameo, fan, step)
    with pytest.raises(FabulaError) as exc:
        await _decide(ready, cameo, fan, action)
    assert exc.value.status == 409 and exc.value.code == "invalid_grant_state"
    assert exc.value.details == {"state": start, "action": action}
    assert (await grants.get_grant(ready, cameo.id, fan.id)).state == start


async def test_deciding_without_a_request_is_404_and_own_cameo_is_400(ready, media):
    owner, stranger = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner)
    for action in ("approve", "decline", "revoke"):
        with pytest.raises(FabulaError) as exc:
            await _decide(ready, cameo, stranger, action)
        assert exc.value.status == 404 and exc.value.code == "grant_not_found"
    with pytest.raises(FabulaError) as exc:
        await _request(ready, cameo, owner)
    assert exc.value.status == 400 and exc.value.code == "own_cameo"


async def test_lists_page_newest_first(ready, media):
    owner = await new_user(ready)
    cameo = await human_cameo(ready, media, owner)
    sunny = await character(ready, media, owner, "sunny")
    fans = [await new_user(ready) for _ in range(5)]
    for fan in fans:
        await _request(ready, cameo, fan)
    await _request(ready, sunny, fans[0])
    await _decide(ready, cameo, fans[1], "approve")

    seen, cursor = [], None
    while True:
        page, cursor = await grants.list_for_cameo(ready, cameo.id, before=cursor, limit=2)
        seen += page
        if cursor is None:
            break
    assert len(seen) == 5 and seen[0].user_id == fans[1].id  # the latest change first
    assert [g.k for g in seen] == sorted((g.k for g in seen), reverse=True)
    requested, _ = await grants.list_for_cameo(ready, cameo.id, state="requested")
    assert {g.user_id for g in requested} == {f.id for f in fans} - {fans[1].id}

    incoming, _ = await grants.incoming(ready, owner.id, limit=100)
    assert len(incoming) == 5 and {g.cameo_id for g in incoming} == {cameo.id, sunny.id}
    mine, _ = await grants.outgoing(ready, fans[0].id)
    assert {g.cameo_id for g in mine} == {cameo.id, sunny.id}
    approved, _ = await grants.outgoing(ready, fans[1].id, state="approved")
    assert [g.cameo_id for g in approved] == [cameo.id]

    with pytest.raises(FabulaError) as exc:
        await grants.list_for_cameo(ready, cameo.id, before="not-a-cursor")
    assert exc.value.code == "invalid_cursor"
    with pytest.raises(FabulaError) as exc:
        await grants.list_for_cameo(ready, cameo.id, limit=0)
    assert exc.value.code == "invalid_limit"


async def test_pending_requests_are_limited(ready, media, monkeypatch):
    monkeypatch.setattr(grants, "MAX_PENDING", 3)
    fan = await new_user(ready)
    cameos = [await human_cameo(ready, media, await new_user(ready)) for _ in range(4)]
    for cameo in cameos[:3]:
        await _request(ready, cameo, fan)
    with pytest.raises(FabulaError) as exc:
        await _request(ready, cameos[3], fan)
    assert exc.value.status == 429 and exc.value.code == "too_many_requests"
    await _decide(ready, cameos[0], fan, "decline")  # an answer frees a place
    await _request(ready, cameos[3], fan)


# --- resolve: the permission matrix with real edges ----------------------------------------

RELATIONS = ("self", "stranger", "follower", "followed", "mutual", "approved", "revoked", "blocked", "blocked_by")
ALLOWED = {
    "only_me": {"self"},
    "approved": {"self", "approved"},
    "mutuals": {"self", "mutual", "approved"},
    "everyone": {"self", "stranger", "follower", "followed", "mutual", "approved", "revoked"},
}


async def _relate(stores, cameo, owner, user, relation):
    if relation == "follower":
        await follow(stores, user, owner)
    elif relation == "followed":
        await follow(stores, owner, user)
    elif relation == "mutual":
        await mutual(stores, owner, user)
    elif relation in ("approved", "revoked"):
        await _request(stores, cameo, user)
        await _decide(stores, cameo, user, "approve")
        if relation == "revoked":
            await _decide(stores, cameo, user, "revoke")
    elif relation == "blocked":
        await _request(stores, cameo, user)
        await _decide(stores, cameo, user, "approve")
        await block(stores, owner, user)
    elif relation == "blocked_by":
        await _request(stores, cameo, user)
        await _decide(stores, cameo, user, "approve")
        await block(stores, user, owner)


@pytest.mark.parametrize("permission", list(ALLOWED))
@pytest.mark.parametrize("relation", RELATIONS)
async def test_permission_matrix_through_resolve(ready, media, permission, relation):
    owner = await new_user(ready)
    user = owner if relation == "self" else await new_user(ready)
    cameo = await human_cameo(ready, media, owner, permission=permission)
    if relation != "self":
        await _relate(ready, cameo, owner, user, relation)
    prompt = f"@{owner.handle.upper()} surfs a wave"
    if relation in ALLOWED[permission]:
        found = await resolve.check_prompt_cameos(ready, user.id, prompt)
        [one] = found.cameos
        assert one.cameo_id == cameo.id and one.mention == f"@{owner.handle}"
        expected = {"self": "self", "mutual": "mutuals" if permission == "mutuals" else None, "approved": "approved"}.get(relation)
        assert one.basis == (expected if permission != "everyone" or relation == "self" else "everyone")
        assert (await resolve.check_cameo_ids(ready, user.id, [cameo.id], prompt)).ids == [cameo.id]
    else:
        for check in (
            resolve.check_prompt_cameos(ready, user.id, prompt),
            resolve.check_cameo_ids(ready, user.id, [cameo.id], prompt),
        ):
            with pytest.raises(FabulaError) as exc:
                await check
            assert exc.value.status == 403 and exc.value.code == "cameo_permission_denied"
            assert exc.value.message == "You are not allowed to access one or more mentioned cameos."
            assert exc.value.details["cameo"] == f"@{owner.handle}" and exc.value.details["cameo_id"] == cameo.id


@pytest.mark.parametrize("permission", list(ALLOWED))
async def test_paused_refuses_everyone(ready, media, permission):
    owner, fan = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner, permission=permission, paused=True)
    await mutual(ready, owner, fan)
    for user in (owner, fan):
        with pytest.raises(FabulaError) as exc:
            await resolve.check_prompt_cameos(ready, user.id, f"@{owner.handle} waves")
        assert exc.value.code == "cameo_permission_denied" and "paused" in exc.value.details["reason"]
    await store.update_cameo(ready, cameo.id, owner.id, {"paused": False})
    await resolve.check_prompt_cameos(ready, owner.id, f"@{owner.handle} waves")


async def test_unknown_mentions_are_422(ready, media):
    owner, user = await new_user(ready), await new_user(ready)
    no_cameo = await new_user(ready)
    await human_cameo(ready, media, owner, permission="everyone")
    for prompt, mention in [
        ("@nobody_here_at_all dances", "@nobody_here_at_all"),
        (f"@{no_cameo.handle} dances", f"@{no_cameo.handle}"),
        (f"@{owner.handle}.ghost dances", f"@{owner.handle}.ghost"),
    ]:
        with pytest.raises(FabulaError) as exc:
            await resolve.check_prompt_cameos(ready, user.id, prompt)
        assert exc.value.status == 422 and exc.value.code == "unknown_cameo" and exc.value.details == {"mention": mention}


async def test_characters_resolve_by_mention_name(ready, media):
    owner, user = await new_user(ready), await new_user(ready)
    await human_cameo(ready, media, owner, permission="only_me")
    sunny = await character(ready, media, owner, "sunny", permission="everyone", preferences=["a yellow raincoat"])
    found = await resolve.check_prompt_cameos(ready, user.id, f"@{owner.handle}.Sunny jumps in puddles")
    [one] = found.cameos
    assert one.cameo_id == sunny.id and one.kind == "character" and one.mention == f"@{owner.handle}.sunny"
    assert one.basis == "everyone" and one.frames == 2
    # the owner's own cameo is only_me: mentioning both refuses
    with pytest.raises(FabulaError) as exc:
        await resolve.check_prompt_cameos(ready, user.id, f"@{owner.handle}.sunny and @{owner.handle}")
    assert exc.value.code == "cameo_permission_denied" and exc.value.details["cameo"] == f"@{owner.handle}"


async def test_restrictions_and_preferences(ready, media):
    owner, user = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(
        ready, media, owner, permission="everyone", restrictions=["political"], preferences=["always wearing a red scarf", "smiling"]
    )
    with pytest.raises(FabulaError) as exc:
        await resolve.check_prompt_cameos(ready, user.id, f"@{owner.handle} campaigns for the election")
    assert exc.value.status == 422 and exc.value.code == "cameo_restricted"
    assert exc.value.details == {"cameo": f"@{owner.handle}", "cameo_id": cameo.id, "restriction": "political"}
    assert f"@{owner.handle}" in exc.value.message
    found = await resolve.check_prompt_cameos(ready, user.id, f"@{owner.handle} plants tomatoes")
    assert found.prompt_with_preferences("P") == f"P\n@{owner.handle}: always wearing a red scarf; smiling."
    # the owner is not bound by their restrictions
    await resolve.check_prompt_cameos(ready, owner.id, f"@{owner.handle} campaigns for the election")


async def test_too_many_mentions(ready):
    prompt = " ".join(f"@someone{i:03d}" for i in range(9))
    with pytest.raises(FabulaError) as exc:
        await resolve.check_prompt_cameos(ready, "user_x", prompt)
    assert exc.value.code == "too_many_mentions"


async def test_no_mentions_resolve_to_nothing(ready):
    found = await resolve.check_prompt_cameos(ready, "user_x", "a lighthouse, mail me at a@b.com")
    assert not found and found.ids == [] and found.prompt_with_preferences("P") == "P"


async def test_revoking_is_seen_by_the_next_check(ready, media):
    """An approved request lets a job be made; revoking refuses its re-check at pickup."""
    owner, fan = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner, permission="approved")
    await _request(ready, cameo, fan)
    await _decide(ready, cameo, fan, "approve")
    prompt = f"@{owner.handle} rides a bike"
    made = await resolve.check_prompt_cameos(ready, fan.id, prompt)
    [used] = await resolve.record_uses(ready, made, video_id="video_queued1", creator_id=fan.id)
    assert used.basis == "approved" and used.grant_id == f"{cameo.id}:{fan.id}" and used.owner_id == owner.id
    await resolve.check_cameo_ids(ready, fan.id, made.ids, prompt)  # still fine at pickup
    assert (await resolve.check_video_cameos(ready, fan.id, "video_queued1", prompt)).ids == [cameo.id]
    await _decide(ready, cameo, fan, "revoke")
    for check in (resolve.check_cameo_ids(ready, fan.id, made.ids, prompt), resolve.check_video_cameos(ready, fan.id, "video_queued1", prompt)):
        with pytest.raises(FabulaError) as exc:
            await check
        assert exc.value.code == "cameo_permission_denied"
    assert not await resolve.check_video_cameos(ready, fan.id, "video_without_cameos", prompt)


async def test_a_deleted_cameo_is_refused_by_id(ready, media):
    owner = await new_user(ready)
    cameo = await human_cameo(ready, media, owner, permission="everyone")
    await deletion.delete_cameo(ready, media, cameo.id)
    with pytest.raises(FabulaError) as exc:
        await resolve.check_cameo_ids(ready, owner.id, [cameo.id], "x")
    assert exc.value.code == "cameo_permission_denied" and exc.value.details["cameo_id"] == cameo.id
    with pytest.raises(FabulaError) as exc:
        await resolve.check_prompt_cameos(ready, owner.id, f"@{owner.handle} waves")
    assert exc.value.code == "unknown_cameo"


async def test_a_remix_inherits_the_source_cameos(ready, media):
    """Likeness is not laundered through a remix: the source's cameos are checked for the remixer."""
    ada, bob, eve = await new_user(ready), await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, ada, permission="approved")
    await _request(ready, cameo, bob)
    await _decide(ready, cameo, bob, "approve")
    made = await resolve.check_prompt_cameos(ready, bob.id, f"@{ada.handle} juggles")
    await resolve.record_uses(ready, made, video_id="video_src1", creator_id=bob.id)
    # eve remixes bob's video with a prompt that no longer names ada
    with pytest.raises(FabulaError) as exc:
        await resolve.check_remix(ready, eve.id, "now on the moon", "video_src1")
    assert exc.value.code == "cameo_permission_denied" and exc.value.details["cameo_id"] == cameo.id
    # bob may remix his own video: his grant stands
    again = await resolve.check_remix(ready, bob.id, "now on the moon", "video_src1")
    assert again.ids == [cameo.id]
    # the source's restrictions apply to the remix prompt too
    await store.update_cameo(ready, cameo.id, ada.id, {"restrictions": ["violence"]})
    with pytest.raises(FabulaError) as exc:
        await resolve.check_remix(ready, bob.id, "now in a sword fight", "video_src1")
    assert exc.value.code == "cameo_restricted"
    assert [a.cameo_id for a in await appearances.of_video(ready, "video_src1")] == [cameo.id]
