"""cameos.store, cameos.identity and cameos.deletion against the real
nx-27017/Valkey servers and a local media store."""

from __future__ import annotations

import asyncio

import pytest

from cameos import appearances, deletion, grants, identity, indexes, store
from cameos.errors import FabulaError
from core.media_store import LocalMediaStore
from tests.cameos.helpers import JPEG, WAV, character, face, human_cameo, near, new_user


@pytest.fixture(scope="module")
async def ready(stores):
    await indexes.ensure(stores)
    return stores


@pytest.fixture
def media(tmp_path):
    return LocalMediaStore(tmp_path / "media")


async def test_create_and_read_a_human_cameo(ready, media):
    owner = await new_user(ready)
    cameo = await human_cameo(ready, media, owner, frames=4)
    assert cameo.id.startswith("cameo_") and cameo.kind == "human" and cameo.mention is None
    assert cameo.permission == "only_me" and not cameo.paused and cameo.face
    assert cameo.frames == 4 and cameo.voice
    again = await store.get_cameo(ready, cameo.id)
    assert again == cameo
    assert await store.find_by_mention(ready, owner.id, None) == cameo
    assert await store.reference_frame(media, cameo, 1) == JPEG
    assert await store.reference_frame(media, cameo, 4) == JPEG
    assert await store.reference_frame(media, cameo, 5) is None
    assert await store.voice_sample(media, cameo) == WAV
    assert [c.id for c in await store.list_owned(ready, owner.id)] == [cameo.id]


async def test_one_human_cameo_per_account_and_unique_character_mentions(ready, media):
    owner = await new_user(ready)
    await human_cameo(ready, media, owner)
    with pytest.raises(FabulaError) as exc:
        await human_cameo(ready, media, owner)
    assert exc.value.status == 409 and exc.value.code == "cameo_exists"
    sunny = await character(ready, media, owner, "sunny")
    assert sunny.mention == "sunny" and not sunny.face
    with pytest.raises(FabulaError) as exc:
        await character(ready, media, owner, "sunny")
    assert exc.value.code == "cameo_exists" and exc.value.details == {"mention": "sunny"}
    # another owner may use the same mention name
    other = await new_user(ready)
    assert (await character(ready, media, other, "sunny")).owner_id == other.id
    assert await store.count_characters(ready, owner.id) == 1
    assert (await store.find_by_mention(ready, owner.id, "SUNNY")).id == sunny.id
    # the refused second cameo left no media behind
    kept = {p.name for p in media.root.iterdir()}
    assert kept == {c.id for c in await store.list_owned(ready, owner.id)} | {c.id for c in await store.list_owned(ready, other.id)}


async def test_update_only_by_the_owner(ready, media):
    owner, other = await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner)
    changed = await store.update_cameo(
        ready, cameo.id, owner.id, {"permission": "mutuals", "paused": True, "preferences": ["red scarf"], "restrictions": ["political"]}
    )
    assert changed.permission == "mutuals" and changed.paused and changed.preferences == ["red scarf"]
    assert changed.restrictions == ["political"] and changed.updated_at >= cameo.updated_at
    assert await store.update_cameo(ready, cameo.id, other.id, {"paused": False}) is None
    assert (await store.get_cameo(ready, cameo.id)).paused
    unpaused = await store.update_cameo(ready, cameo.id, owner.id, {"paused": False})
    assert unpaused.paused is False  # a stored false reads back false (nx-27017 keeps 0/1)
    with pytest.raises(ValueError):
        await store.update_cameo(ready, cameo.id, owner.id, {"owner_id": other.id})


async def test_a_failed_media_write_leaves_nothing(ready, tmp_path):
    class Failing(LocalMediaStore):
        async def put_bytes(self, video_id, variant, data):
            if variant == "voice":
                raise OSError("disk full")
            return await super().put_bytes(video_id, variant, data)

    media = Failing(tmp_path / "failing")
    owner = await new_user(ready)
    with pytest.raises(OSError):
        await human_cameo(ready, media, owner)
    assert await store.list_owned(ready, owner.id) == []
    assert not media.root.exists() or list(media.root.iterdir()) == []


async def test_deleting_a_cameo_leaves_no_trace(ready, media):
    owner, fan, thief = await new_user(ready), await new_user(ready), await new_user(ready)
    cameo = await human_cameo(ready, media, owner, seed=4242)
    await grants.request(ready, cameo_id=cameo.id, owner_id=owner.id, user_id=fan.id)
    await appearances.record(ready, cameo_id=cameo.id, owner_id=owner.id, video_id="video_x1", creator_id=fan.id, basis="approved")
    with pytest.raises(FabulaError):  # an attempt on the same face, logged for review
        await identity.ensure_unclaimed(ready, near(face(4242), 0.2), user_id=thief.id, context="cameo")
    assert len(await identity.reviews_for(ready, cameo.id)) == 1
    assert (media.root / cameo.id).is_dir()

    assert await deletion.delete_cameo(ready, media, cameo.id)

    assert await store.get_cameo(ready, cameo.id) is None
    assert await ready.db["cameos"].count_documents({"_id": cameo.id}) == 0
    assert await ready.db["cameos"].count_documents({"owner_id": owner.id}) == 0  # embedding went with it
    assert await ready.db["cameo_grants"].count_documents({"cameo_id": cameo.id}) == 0
    assert await identity.reviews_for(ready, cameo.id) == []
    assert not (media.root / cameo.id).exists()
    assert [p for p in media.root.rglob("*") if cameo.id in p.name] == []
    assert await store.reference_frame(media, cameo, 1) is None
    # the face is free again
    await identity.ensure_unclaimed(ready, near(face(4242), 0.2), user_id=thief.id, context="cameo")
    # the appearance stays, so the owner can still remove that video
    [kept] = (await appearances.list_for_cameo(ready, cameo.id))[0]
    assert kept.video_id == "video_x1" and kept.owner_id == owner.id
    assert await appearances.owner_of(ready, cameo.id) == owner.id
    assert not await deletion.delete_cameo(ready, media, cameo.id)


# --- identity -------------------------------------------------------------------------


def test_nearest():
    a, b = face(1), face(2)
    assert identity.nearest(a, []) is None
    match = identity.nearest(near(a, 0.3), [("cameo_b", "user_b", b), ("cameo_a", "user_a", a)])
    assert match.cameo_id == "cameo_a" and match.owner_id == "user_a" and abs(match.distance - 0.3) < 1e-9


async def test_one_person_one_cameo(ready, media):
    alice, mallory = await new_user(ready), await new_user(ready)
    mine = await human_cameo(ready, media, alice, seed=777)
    # the same face on another account: refused, and logged for review
    with pytest.raises(FabulaError) as exc:
        await identity.ensure_unclaimed(ready, near(face(777), 0.45), user_id=mallory.id, context="cameo")
    assert exc.value.status == 409 and exc.value.code == "likeness_taken"
    [review] = await identity.reviews_for(ready, mine.id)
    assert review["user_id"] == mallory.id and review["matched_owner_id"] == alice.id
    assert 0.44 < review["distance"] < 0.46 and review["kind"] == "likeness_taken" and "embedding" not in review
    # a different face passes; so does the same face on its own account (a character of oneself)
    await identity.ensure_unclaimed(ready, near(face(777), 0.75), user_id=mallory.id, context="cameo")
    await identity.ensure_unclaimed(ready, near(face(777), 0.1), user_id=alice.id, context="character")
    assert len(await identity.reviews_for(ready, mine.id)) == 1


async def test_the_identity_lock_serialises_claims(ready):
    order: list[str] = []

    async def hold(name: str, delay: float) -> None:
        async with identity.claim(ready):
            order.append(f"{name}+")
            await asyncio.sleep(delay)  # holds the lock for a while: the other must wait
            order.append(f"{name}-")

    await asyncio.gather(hold("a", 0.2), hold("b", 0.0))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])
