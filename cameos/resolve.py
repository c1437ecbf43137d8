"""From a prompt's mentions to cameos the user may use: the I/O around
``policy.likeness``.

``check_prompt_cameos`` is what a create calls: it parses the mentions,
finds each cameo (``@handle``: that person's own cameo; ``@handle.name``:
their character), gathers the facts (follows both ways, a block either way,
an approved grant) and asks the policy, prompt included (restrictions).
``check_cameo_ids`` does the same for cameos known by id;
``check_video_cameos`` for the cameos a video was made with (the worker's
re-check at pickup, publishing a draft); ``check_remix`` for a remix or an
extension, which inherits its source's cameos, so a likeness is never
laundered through someone else's video. ``record_uses`` notes a new video's
cameos as its appearances.

Errors (``cameos.errors``): an unknown mention is 422 ``unknown_cameo``; a
refusal 403 ``cameo_permission_denied`` (a cameo deleted since counts as
refused); a breached restriction 422 ``cameo_restricted``; more than
``policy.mentions.MAX_MENTIONS`` cameos 422 ``too_many_mentions``."""

from __future__ import annotations

import msgspec

from accounts import graph, users
from cameos import appearances, grants, store
from cameos.errors import cameo_restricted, permission_denied, too_many_mentions, unknown_cameo
from cameos.store import Cameo
from core.stores import Stores
from policy.likeness import CameoDecision, CameoFacts, RelationshipFacts, may_use_in_prompt
from policy.mentions import MAX_MENTIONS, parse_mentions


class ResolvedCameo(msgspec.Struct, frozen=True, kw_only=True):
    cameo_id: str
    owner_id: str
    mention: str  # "@ada" or "@ada.sunny"
    kind: str
    name: str
    basis: str  # what allowed this use: self | everyone | mutuals | approved
    preferences: tuple[str, ...] = ()
    frames: int = 0  # reference frames stored (cameos.store.reference_frame)


class ResolvedCameos(msgspec.Struct, frozen=True, kw_only=True):
    cameos: tuple[ResolvedCameo, ...] = ()

    @property
    def ids(self) -> list[str]:
        return [c.cameo_id for c in self.cameos]

    def __bool__(self) -> bool:
        return bool(self.cameos)

    def prompt_with_preferences(self, prompt: str) -> str:
        """The prompt with each cameo's preferences added, one line per cameo:
        ``@ada: always wearing a red scarf; speaks softly.``"""
        lines = [f"{c.mention}: {'; '.join(c.preferences)}." for c in self.cameos if c.preferences]
        return "\n".join([prompt, *lines]) if lines else prompt


def mention_of(cameo: Cameo, owner_handle: str) -> str:
    """How prompts name ``cameo``."""
    handle = owner_handle.lower()
    return f"@{handle}.{cameo.mention}" if cameo.mention else f"@{handle}"


def cameo_facts(cameo: Cameo, mention: str) -> CameoFacts:
    return CameoFacts(
        cameo_id=cameo.id,
        owner_id=cameo.owner_id,
        mention=mention,
        permission=cameo.permission,
        paused=cameo.paused,
        restrictions=tuple(cameo.restrictions),
    )


async def relationship_facts(stores: Stores, user_id: str, cameo: Cameo) -> RelationshipFacts:
    if user_id == cameo.owner_id:
        return RelationshipFacts()
    rel = await graph.relationship(stores, user_id, cameo.owner_id)
    blocked = rel.blocking or await graph.is_blocked_between(stores, user_id, cameo.owner_id)
    return RelationshipFacts(
        user_follows_owner=rel.following,
        owner_follows_user=rel.followed_by,
        approved=await grants.is_approved(stores, cameo.id, user_id),
        blocked=blocked,
    )


async def decide(stores: Stores, user_id: str, cameo: Cameo, mention: str, prompt: str) -> CameoDecision:
    """The policy's decision on one cameo for one prompt."""
    return may_use_in_prompt(user_id, cameo_facts(cameo, mention), await relationship_facts(stores, user_id, cameo), prompt)


def _accepted(cameo: Cameo, mention: str, decision: CameoDecision) -> ResolvedCameo:
    if not decision.allowed:
        if decision.category == "restricted":
            raise cameo_restricted(mention, cameo.id, decision.restriction or "", decision.reason or "restricted")
        raise permission_denied(mention, cameo.id, decision.reason or "not allowed")
    return resolved_cameo(cameo, mention, decision.basis or "self")


def resolved_cameo(cameo: Cameo, mention: str, basis: str) -> ResolvedCameo:
    """``cameo`` as a use allowed on ``basis``."""
    return ResolvedCameo(
        cameo_id=cameo.id,
        owner_id=cameo.owner_id,
        mention=mention,
        kind=cameo.kind,
        name=cameo.name,
        basis=basis,
        preferences=tuple(cameo.preferences),
        frames=cameo.frames,
    )


async def check_prompt_cameos(stores: Stores, user_id: str, prompt: str) -> ResolvedCameos:
    """The cameos ``prompt`` mentions, each one checked for ``user_id``; raises
    on the first unknown, refused or restricted one."""
    mentions = parse_mentions(prompt)
    if len(mentions) > MAX_MENTIONS:
        raise too_many_mentions(MAX_MENTIONS)
    out: list[ResolvedCameo] = []
    for mention in mentions:
        owner = await users.get_by_handle(stores, mention.handle)
        cameo = await store.find_by_mention(stores, owner.id, mention.character) if owner else None
        if owner is None or cameo is None:
            raise unknown_cameo(mention.text)
        name = mention_of(cameo, owner.handle)
        out.append(_accepted(cameo, name, await decide(stores, user_id, cameo, name, prompt)))
    return ResolvedCameos(cameos=tuple(out))


async def check_cameo_ids(stores: Stores, user_id: str, cameo_ids: list[str], prompt: str) -> ResolvedCameos:
    """Check cameos known by id (a queued job's, a draft's, a remix source's)
    for ``user_id`` and ``prompt``; a cameo deleted since is refused."""
    ids = list(dict.fromkeys(cameo_ids))
    found = await store.get_cameos(stores, ids)
    owners = await users.get_users(stores, [c.owner_id for c in found.values()])
    out: list[ResolvedCameo] = []
    for cameo_id in ids:
        cameo = found.get(cameo_id)
        owner = owners.get(cameo.owner_id) if cameo else None
        if cameo is None or owner is None:
            raise permission_denied("a deleted cameo", cameo_id, "The cameo no longer exists.")
        name = mention_of(cameo, owner.handle)
        out.append(_accepted(cameo, name, await decide(stores, user_id, cameo, name, prompt)))
    return ResolvedCameos(cameos=tuple(out))


async def check_video_cameos(stores: Stores, user_id: str, video_id: str, prompt: str) -> ResolvedCameos:
    """Check again, for ``user_id``, every cameo a video was made with (its
    appearances): the worker's re-check when it picks a queued job up, and
    publishing a draft. A grant revoked or a cameo paused or deleted since
    refuses (403 ``cameo_permission_denied``)."""
    ids = [a.cameo_id for a in await appearances.of_video(stores, video_id)]
    if not ids:
        return ResolvedCameos()
    return await check_cameo_ids(stores, user_id, ids, prompt)


async def check_remix(stores: Stores, user_id: str, prompt: str, source_video_id: str) -> ResolvedCameos:
    """A remix or extension of ``source_video_id``: the cameos its new prompt
    mentions and every cameo the source uses, all checked for ``user_id``."""
    mentioned = await check_prompt_cameos(stores, user_id, prompt)
    inherited = [a.cameo_id for a in await appearances.of_video(stores, source_video_id)]
    extra = [cid for cid in inherited if cid not in set(mentioned.ids)]
    if not extra:
        return mentioned
    if len(mentioned.cameos) + len(extra) > MAX_MENTIONS:
        raise too_many_mentions(MAX_MENTIONS)
    more = await check_cameo_ids(stores, user_id, extra, prompt)
    return ResolvedCameos(cameos=mentioned.cameos + more.cameos)


async def record_uses(stores: Stores, resolved: ResolvedCameos, *, video_id: str, creator_id: str) -> list[appearances.Appearance]:
    """Note a new video's cameos as appearances (after its job is created)."""
    return [
        await appearances.record(
            stores, cameo_id=c.cameo_id, owner_id=c.owner_id, video_id=video_id, creator_id=creator_id, basis=c.basis
        )
        for c in resolved.cameos
    ]
