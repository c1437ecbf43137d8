"""cameos.output_likeness on a real recorded cameo: frames of a finished
video that show the astronaut are refused for a stranger, allowed for the
cameo's owner and for a user with an approved grant (until it is revoked);
frames without a face, or with a face that is nobody's cameo, pass; the
job's cameo ids are checked, not trusted; the cameo's restrictions apply to
the job's prompt; a passed video names the other people's cameos it shows
beyond its job's, with what allows each."""

from __future__ import annotations

import pytest
import skimage.data

from accounts import graph_writes
from cameos import grants, store
from cameos import output_likeness
from core.media_store import open_media_store
from policy.face_likeness import OUTPUT_SENTENCE, ShownCameo
from tests.cameos.helpers import erase_recorded_faces, new_user
from tests.cameos.recorded_face import astronaut_cameo, astronaut_frames, hopper_frame


PROMPT = "a person walking through a park at dusk"


async def likeness_refusal(stores, user_id, frames, job_cameo_ids, prompt=PROMPT):
    return (await output_likeness.check_output(stores, user_id, prompt, frames, job_cameo_ids)).refusal


async def shown(stores, user_id, frames, job_cameo_ids, prompt=PROMPT):
    verdict = await output_likeness.check_output(stores, user_id, prompt, frames, job_cameo_ids)
    assert verdict.refusal is None, verdict
    return verdict.shown


@pytest.fixture(scope="module")
async def world(stores, settings, tmp_path_factory):
    owner = await new_user(stores)
    cameo = await astronaut_cameo(stores, open_media_store(settings), owner.id, tmp_path_factory.mktemp("face"))
    yield owner, cameo
    await erase_recorded_faces(settings)


async def test_a_stranger_is_refused_the_owner_is_not(stores, world):
    owner, cameo = world
    stranger = await new_user(stores)
    for frames in (astronaut_frames(), astronaut_frames()[1:]):  # the second: one 64x64 frame alone
        refusal = await likeness_refusal(stores, stranger.id, frames, [])
        assert refusal is not None and not refusal.allowed
        assert refusal.category == "real_person" and refusal.reason == OUTPUT_SENTENCE
        assert cameo.id not in refusal.reason and owner.handle not in refusal.reason and "Astronaut" not in refusal.reason
    assert await likeness_refusal(stores, owner.id, astronaut_frames(), []) is None
    assert await likeness_refusal(stores, owner.id, astronaut_frames(), [cameo.id]) is None
    # paused, it is still its owner's own face
    await store.update_cameo(stores, cameo.id, owner.id, {"paused": True})
    try:
        assert await likeness_refusal(stores, owner.id, astronaut_frames(), []) is None
    finally:
        await store.update_cameo(stores, cameo.id, owner.id, {"paused": False})


async def test_frames_without_a_registered_face_pass(stores, world):
    stranger = await new_user(stores)
    assert await likeness_refusal(stores, stranger.id, [], []) is None
    assert await likeness_refusal(stores, stranger.id, [skimage.data.coffee(), skimage.data.chelsea()], []) is None
    assert await likeness_refusal(stores, stranger.id, [hopper_frame()], []) is None  # a face, but nobody's cameo


async def test_a_grant_allows_until_it_is_revoked(stores, world):
    owner, cameo = world
    fan = await new_user(stores)
    await store.update_cameo(stores, cameo.id, owner.id, {"permission": "approved"})
    try:
        await grants.request(stores, cameo_id=cameo.id, owner_id=owner.id, user_id=fan.id)
        assert await likeness_refusal(stores, fan.id, astronaut_frames(), []) is not None  # asked, not approved
        await grants.decide(stores, cameo_id=cameo.id, user_id=fan.id, action="approve")
        assert await likeness_refusal(stores, fan.id, astronaut_frames(), [cameo.id]) is None
        await grants.decide(stores, cameo_id=cameo.id, user_id=fan.id, action="revoke")
        # revoked while the video was made: the job's cameo ids do not keep it open
        assert await likeness_refusal(stores, fan.id, astronaut_frames(), [cameo.id]) is not None
    finally:
        await store.update_cameo(stores, cameo.id, owner.id, {"permission": "only_me"})


async def test_another_users_cameo_ids_open_nothing(stores, world):
    owner, cameo = world
    stranger = await new_user(stores)
    refusal = await likeness_refusal(stores, stranger.id, astronaut_frames(), [cameo.id, "cameo_01jzzzzzzzzzzzzzzzzzzzzzzz"])
    assert refusal is not None and refusal.category == "real_person"


async def test_everyone_but_a_blocked_user(stores, world):
    owner, cameo = world
    anyone, blocked = await new_user(stores), await new_user(stores)
    await store.update_cameo(stores, cameo.id, owner.id, {"permission": "everyone"})
    try:
        await graph_writes.block(stores, owner.id, blocked.id)
        assert await likeness_refusal(stores, anyone.id, astronaut_frames(), []) is None
        assert await likeness_refusal(stores, blocked.id, astronaut_frames(), []) is not None
    finally:
        await store.update_cameo(stores, cameo.id, owner.id, {"permission": "only_me"})


async def test_a_passed_video_names_the_cameos_it_shows_beyond_its_jobs(stores, world):
    owner, cameo = world
    anyone = await new_user(stores)
    # the owner's own face is theirs: never named
    assert await shown(stores, owner.id, astronaut_frames(), []) == ()
    await store.update_cameo(stores, cameo.id, owner.id, {"permission": "everyone"})
    try:
        expected = ShownCameo(cameo_id=cameo.id, owner_id=owner.id, mention="@" + owner.handle, basis="everyone")
        assert await shown(stores, anyone.id, astronaut_frames(), []) == (expected,)
        # named by the job (a mention, a picture): recorded when the job was made, not named again
        assert await shown(stores, anyone.id, astronaut_frames(), [cameo.id]) == ()
        # no face of a cameo: nothing named
        assert await shown(stores, anyone.id, [hopper_frame()], []) == ()
        # an approved grant is named as such, with its grant
        await store.update_cameo(stores, cameo.id, owner.id, {"permission": "approved"})
        await grants.request(stores, cameo_id=cameo.id, owner_id=owner.id, user_id=anyone.id)
        await grants.decide(stores, cameo_id=cameo.id, user_id=anyone.id, action="approve")
        (approved,) = await shown(stores, anyone.id, astronaut_frames(), [])
        assert approved.basis == "approved" and approved.grant_id == grants.grant_id(cameo.id, anyone.id)
    finally:
        await store.update_cameo(stores, cameo.id, owner.id, {"permission": "only_me"})


async def test_the_cameos_restrictions_apply_to_the_jobs_prompt(stores, world):
    owner, cameo = world
    anyone = await new_user(stores)
    await store.update_cameo(stores, cameo.id, owner.id, {"permission": "everyone", "restrictions": ["political"]})
    try:
        assert await likeness_refusal(stores, anyone.id, astronaut_frames(), []) is None
        refusal = await likeness_refusal(stores, anyone.id, astronaut_frames(), [], prompt="a speech at an election rally")
        assert refusal is not None and refusal.category == "real_person" and refusal.reason == OUTPUT_SENTENCE
        # the owner's restrictions are for others: their own face passes
        assert await likeness_refusal(stores, owner.id, astronaut_frames(), [], prompt="a speech at an election rally") is None
    finally:
        await store.update_cameo(stores, cameo.id, owner.id, {"permission": "only_me", "restrictions": []})
