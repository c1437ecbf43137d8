"""Making a cameo from a recording: the order of the checks, cheapest first.

A person's own cameo (``create_human_cameo``):

1. the challenge is the user's and still usable (410 ``challenge_expired`` /
   ``challenge_used``), looked at without taking it;
2. the account has no cameo of its own face yet (409 ``cameo_exists``);
3. the file's header reads as a video of at most 30 s (422 / 413), before
   anything is decoded; then frames sampled over it go through NudeNet,
   strictly (422 ``moderation_blocked``, ``cameos.capture_nudity``);
4. the challenge is taken, once (410 as in 1: two uploads racing with one
   challenge, one gets it);
5. the liveness pipeline runs in the process pool (422 ``liveness_failed``
   with what it saw);
6. its reference frames go through NudeNet too; under the identity lock,
   the face is nobody else's cameo (409 ``likeness_taken``, logged for
   review), and the cameo is stored with its embedding, reference frames and
   voice sample.

A character (``create_character``, what the OpenAI SDK's
``create_character`` makes): the same header and nudity checks, then the faces in the
video are counted (a challenge sent along is looked at first, as in 1). With
a human face it must come with a challenge and pass
the same liveness check and identity test; without one it is kept as it is,
with frames taken from the video as its references (checked by NudeNet
before they are stored).

The recording itself is not kept: only what the cameo needs is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cameos import capture_nudity, challenges, identity, store, verification
from cameos.errors import cameo_exists, liveness_failed, liveness_required, too_many_cameos
from cameos.store import Cameo
from core.errors import BadRequest
from core.settings import Settings
from core.stores import Stores
from policy.mentions import character_mention

if TYPE_CHECKING:
    from core.media_store import MediaStore


async def _verified(stores: Stores, settings: Settings, user_id: str, challenge_id: str, path: str):
    challenge = await challenges.take_challenge(stores, user_id, challenge_id)
    report = await verification.verify(settings, path, challenge.digits, challenge.moves)
    if not report.ok or not report.embedding:
        details = report.details()
        if report.ok:  # passed, yet no identity came out of it
            details["failures"] = [*details["failures"], "identity"]
        raise liveness_failed(details)
    return report


async def create_human_cameo(
    stores: Stores, media: MediaStore, settings: Settings, *, user_id: str, name: str, challenge_id: str, path: str
) -> Cameo:
    """The person's own cameo from a challenge recording at ``path``."""
    await challenges.check_usable(stores, user_id, challenge_id)
    if await store.find_by_mention(stores, user_id, None) is not None:
        raise cameo_exists("this account has a cameo of its own face already; delete it to record a new one")
    await verification.probe(settings, path)
    await capture_nudity.check_recording(settings, path)
    report = await _verified(stores, settings, user_id, challenge_id, path)
    return await _store_likeness(stores, media, report, user_id=user_id, kind="human", name=name, mention=None)


async def _store_likeness(
    stores: Stores, media: MediaStore, report, *, user_id: str, kind: str, name: str, mention: str | None
) -> Cameo:
    """Store a verified face as a cameo, unless it is another account's (``likeness_taken``)
    or its reference frames show nudity (``moderation_blocked``)."""
    await capture_nudity.check_frames(list(report.reference_jpegs))
    async with identity.claim(stores):
        context = "cameo" if kind == "human" else "character"
        await identity.ensure_unclaimed(stores, report.embedding, user_id=user_id, context=context)
        return await store.create_cameo(
            stores,
            media,
            owner_id=user_id,
            kind=kind,
            name=name,
            mention=mention,
            embedding=list(report.embedding),
            frames=list(report.reference_jpegs),
            voice=report.voice_wav,
        )


def mention_for(name: str) -> str:
    """A character's mention name from its display name; 400 when none can be made."""
    mention = character_mention(name)
    if not mention:
        raise BadRequest("the name needs at least one letter or digit", code="invalid_name")
    return mention


async def create_character(
    stores: Stores,
    media: MediaStore,
    settings: Settings,
    *,
    user_id: str,
    name: str,
    path: str,
    challenge_id: str | None = None,
) -> Cameo:
    """A character from a video: live-verified when it shows a human face
    (``challenge_id`` required then), checked to show no face otherwise."""
    mention = mention_for(name)
    if challenge_id is not None:
        await challenges.check_usable(stores, user_id, challenge_id)
    if await store.count_characters(stores, user_id) >= store.MAX_CHARACTERS:
        raise too_many_cameos(store.MAX_CHARACTERS)
    if await store.find_by_mention(stores, user_id, mention) is not None:
        raise cameo_exists(f"you have a character named {mention!r} already; choose another name", details={"mention": mention})
    await verification.probe(settings, path)
    await capture_nudity.check_recording(settings, path)
    if await verification.face_count(settings, path) > 0:
        if challenge_id is None:
            raise liveness_required()
        report = await _verified(stores, settings, user_id, challenge_id, path)
        return await _store_likeness(stores, media, report, user_id=user_id, kind="character", name=name, mention=mention)
    frames = await verification.character_frames(settings, path)
    await capture_nudity.check_frames(frames)
    return await store.create_cameo(
        stores, media, owner_id=user_id, kind="character", name=name, mention=mention, embedding=None, frames=frames, voice=None
    )

