"""Cameos in the create-video path: which cameos a new video may feature,
the picture it is conditioned on, and the record of each use.

The Videos API's create, remix and extend call :func:`prepare` before a job
is made (it raises ``cameo_permission_denied``, ``unknown_cameo`` or
``cameo_restricted`` and then nothing is written), :func:`with_pictured`
when a picture the person gave shows cameos' faces (they are featured as
if mentioned: checked the same way, and recorded), and :func:`record` after
it (appearances, and a ``cameo_used`` notification to each owner who is not
the creator).
"""

from __future__ import annotations

import asyncio

import msgspec

from cameos import store
from cameos.conditioning import compose_reference
from cameos.grants import grant_id
from cameos.resolve import ResolvedCameos, check_cameo_ids, check_prompt_cameos, check_remix, record_uses
from core.settings import Settings
from core.stores import Stores
from feed.social import notifications
from gen.provenance.manifest import CameoConsent
from server.media import guarded, media_store
from server.videos_schema import model_takes_images


class CameoUse(msgspec.Struct, frozen=True, kw_only=True):
    resolved: ResolvedCameos
    render_prompt: str  # the prompt with each cameo's preferences added
    reference: bytes | None  # the composed conditioning picture (PNG), when one is made

    @property
    def ids(self) -> list[str]:
        return self.resolved.ids

    def consents(self, user_id: str) -> list[CameoConsent]:
        """What allowed each cameo, for the video's provenance manifest."""
        return [
            CameoConsent(
                cameo_id=c.cameo_id,
                mention=c.mention,
                basis=c.basis,
                grant_id=grant_id(c.cameo_id, user_id) if c.basis == "approved" else None,
            )
            for c in self.resolved.cameos
        ]


async def _conditioning(stores: Stores, settings: Settings, resolved: ResolvedCameos, width: int, height: int) -> bytes | None:
    media = media_store(settings)
    found = await store.get_cameos(stores, resolved.ids)
    frames = []
    for used in resolved.cameos:
        cameo = found.get(used.cameo_id)
        if cameo is not None and cameo.frames:
            frame = await guarded("read", store.reference_frame(media, cameo, 1))
            if frame:
                frames.append(frame)
    if not frames:
        return None
    return await asyncio.to_thread(compose_reference, frames, width, height)


async def prepare(
    stores: Stores,
    settings: Settings,
    *,
    user_id: str,
    prompt: str,
    model: str,
    width: int,
    height: int,
    has_reference: bool,
    source_video_id: str | None = None,
) -> CameoUse:
    """Check the cameos a new video would feature (those its prompt mentions,
    and for a remix or an extension every cameo of its source) and make its
    conditioning picture. A picture the person gave (``input_reference``, an
    extension's last frame) is kept: cameo frames condition only a video that
    has none, on a preset that takes images."""
    if source_video_id is None:
        resolved = await check_prompt_cameos(stores, user_id, prompt)
    else:
        resolved = await check_remix(stores, user_id, prompt, source_video_id)
    reference = None
    if resolved and not has_reference and model_takes_images(model):
        reference = await _conditioning(stores, settings, resolved, width, height)
    return CameoUse(resolved=resolved, render_prompt=resolved.prompt_with_preferences(prompt), reference=reference)


async def with_pictured(stores: Stores, use: CameoUse, *, user_id: str, prompt: str, cameo_ids: tuple[str, ...]) -> CameoUse:
    """``use`` and the other people's cameos whose faces a picture the person
    gave shows (an ``input_reference``, an uploaded video's last frame:
    ``cameos.reference_faces``), each checked for them and the prompt as a
    mention is (a restriction the prompt breaches refuses). The same ``use``
    when the picture shows none it lacks."""
    have = set(use.ids)
    extra = [cameo_id for cameo_id in cameo_ids if cameo_id not in have]
    if not extra:
        return use
    more = await check_cameo_ids(stores, user_id, extra, prompt)
    resolved = ResolvedCameos(cameos=use.resolved.cameos + more.cameos)
    return CameoUse(resolved=resolved, render_prompt=resolved.prompt_with_preferences(prompt), reference=use.reference)


async def record(stores: Stores, resolved: ResolvedCameos, *, video_id: str, creator_id: str) -> None:
    """After the job exists: note its appearances and tell each owner (not a creator using their own)."""
    for used in await record_uses(stores, resolved, video_id=video_id, creator_id=creator_id):
        if used.owner_id != creator_id:
            await notifications.notify(
                stores, recipient_id=used.owner_id, actor_id=creator_id, kind="cameo_used", cameo_id=used.cameo_id, video_id=video_id
            )
