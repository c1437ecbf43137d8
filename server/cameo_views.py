"""Cameos on the wire: the cameo, a grant, an appearance and the OpenAI
character, with the profiles they name; and the ownership checks every cameo
route starts with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from accounts.graph import is_blocked_between
from accounts.users import User
from cameos import grants, store
from cameos.errors import cameo_not_found, not_owner
from cameos.grants import Grant
from cameos.resolve import mention_of
from cameos.store import Cameo
from core.clock import unix
from core.stores import Stores
from core.text import LINE_SCHEMA, check_text, is_blank
from feed.social.authors import Author, authors
from policy.cameo_restrictions import IDS as RESTRICTION_IDS

PREFERENCE_MAX, PREFERENCES_MAX = 200, 5

Permission = Literal["only_me", "approved", "mutuals", "everyone"]
RestrictionId = Literal[RESTRICTION_IDS]  # type: ignore[valid-type]
CameoName = Annotated[str, Meta(min_length=1, max_length=store.NAME_MAX, description="1 to 50 characters, one line", extra_json_schema=LINE_SCHEMA)]
Preference = Annotated[
    str, Meta(min_length=1, max_length=PREFERENCE_MAX, description="an instruction added to every prompt that uses the cameo", extra_json_schema=LINE_SCHEMA)
]


def check_line(field: str, value: str) -> None:
    """Raise ValueError, as "field: problem", for a value that shows nothing
    (``core.text.is_blank``: spaces and invisible characters only) or one
    that breaks ``core.text``'s one-line rule, as a display name would."""
    if is_blank(value):
        raise ValueError(f"{field}: must not be blank")
    check_text(field, value, one_line=True)


class CameoView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "cameo"
    kind: str  # human | character
    name: str
    mention: str  # how prompts name it: "@handle" or "@handle.name"
    owner: Author
    permission: Permission
    paused: bool
    face: bool  # a live-verified human face
    restrictions: list[str]
    preferences: list[str] | None  # the owner's instructions; shown to the owner only
    my_grant: str | None  # to others: the state of my request (requested, approved, declined, revoked) or None
    created_at: int
    updated_at: int


class CameoList(msgspec.Struct, kw_only=True):
    data: list[CameoView]
    object: str = "list"


class CameoChanges(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /v1/cameos/{id}``: the fields to change; absent ones stay."""

    name: CameoName | msgspec.UnsetType = msgspec.UNSET
    permission: Permission | msgspec.UnsetType = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET
    preferences: Annotated[list[Preference], Meta(max_length=PREFERENCES_MAX)] | msgspec.UnsetType = msgspec.UNSET
    restrictions: Annotated[list[RestrictionId], Meta(max_length=len(RESTRICTION_IDS), extra_json_schema={"uniqueItems": True})] | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        if isinstance(self.name, str):
            check_line("name", self.name)
        if isinstance(self.preferences, list):
            for preference in self.preferences:
                check_line("preferences", preference)
        if isinstance(self.restrictions, list) and len(set(self.restrictions)) != len(self.restrictions):
            raise ValueError("restrictions must not repeat")

    def changes(self) -> dict:
        return {name: value for name in self.__struct_fields__ if (value := getattr(self, name)) is not msgspec.UNSET}


class CameoDeleted(msgspec.Struct, kw_only=True):
    id: str
    object: str = "cameo.deleted"
    deleted: bool = True
    # videos that used it: its owner can still remove them (DELETE /v1/cameos/{id}/appearances/{video_id})
    appearances: list[str] = []


class GrantView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "cameo.grant"
    cameo_id: str
    user: Author  # who asked
    owner: Author
    state: str  # requested | approved | declined | revoked
    requested_at: int
    decided_at: int | None
    updated_at: int


class GrantPage(msgspec.Struct, kw_only=True):
    data: list[GrantView]
    next_cursor: str | None
    object: str = "list"


class AppearanceView(msgspec.Struct, kw_only=True):
    object: str = "cameo.appearance"
    cameo_id: str
    video_id: str
    creator: Author | None  # None when the creator's account is gone
    state: str  # queued | in_progress | failed | draft | published | deleted
    post_id: str | None
    basis: str  # what allowed the use: self | everyone | mutuals | approved
    created_at: int


class AppearancePage(msgspec.Struct, kw_only=True):
    data: list[AppearanceView]
    next_cursor: str | None
    object: str = "list"


class AppearanceRemoved(msgspec.Struct, kw_only=True):
    cameo_id: str
    video_id: str
    object: str = "cameo.appearance.deleted"
    deleted: bool = True


class CharacterObject(msgspec.Struct, kw_only=True):
    """OpenAI's character: ``id``, ``name``, ``created_at``; Fabula adds the mention."""

    id: str
    name: str
    created_at: int
    object: str = "character"
    mention: str | None = None


def _ts(value: datetime | None) -> int | None:
    return unix(value)


async def cameo_views(stores: Stores, items: list[Cameo], viewer_id: str) -> list[CameoView]:
    found = await authors(stores, [c.owner_id for c in items])
    out = []
    for c in items:
        owner = found.get(c.owner_id)
        if owner is None:
            continue
        mine = c.owner_id == viewer_id
        grant = None if mine else await grants.get_grant(stores, c.id, viewer_id)
        out.append(
            CameoView(
                id=c.id,
                kind=c.kind,
                name=c.name,
                mention=mention_of(c, owner.handle),
                owner=owner,
                permission=c.permission,  # type: ignore[arg-type]
                paused=c.paused,
                face=c.face,
                restrictions=c.restrictions,
                preferences=c.preferences if mine else None,
                my_grant=grant.state if grant else None,
                created_at=_ts(c.created_at) or 0,
                updated_at=_ts(c.updated_at) or 0,
            )
        )
    return out


async def cameo_view(stores: Stores, cameo: Cameo, viewer_id: str) -> CameoView:
    views = await cameo_views(stores, [cameo], viewer_id)
    if not views:
        raise cameo_not_found(cameo.id)
    return views[0]


async def grant_views(stores: Stores, items: list[Grant]) -> list[GrantView]:
    found = await authors(stores, [g.user_id for g in items] + [g.owner_id for g in items])
    return [
        GrantView(
            id=g.id,
            cameo_id=g.cameo_id,
            user=found[g.user_id],
            owner=found[g.owner_id],
            state=g.state,
            requested_at=_ts(g.requested_at) or 0,
            decided_at=_ts(g.decided_at),
            updated_at=_ts(g.updated_at) or 0,
        )
        for g in items
        if g.user_id in found and g.owner_id in found
    ]


def character_object(cameo: Cameo, owner_handle: str | None = None) -> CharacterObject:
    return CharacterObject(
        id=cameo.id,
        name=cameo.name,
        created_at=_ts(cameo.created_at) or 0,
        mention=mention_of(cameo, owner_handle) if owner_handle else None,
    )


# --- who may see and change a cameo ---------------------------------------------------


async def visible_cameo(stores: Stores, cameo_id: str, user: User) -> Cameo:
    """The cameo, unless it does not exist or a block stands between the user
    and its owner: then 404, the same for both."""
    cameo = await store.get_cameo(stores, cameo_id)
    if cameo is None:
        raise cameo_not_found(cameo_id)
    if cameo.owner_id != user.id and await is_blocked_between(stores, user.id, cameo.owner_id):
        raise cameo_not_found(cameo_id)
    return cameo


async def owned_cameo(stores: Stores, cameo_id: str, user: User) -> Cameo:
    """The user's own cameo: 404 as for ``visible_cameo``, 403 ``not_cameo_owner``
    for a cameo the user can see but does not own."""
    cameo = await visible_cameo(stores, cameo_id, user)
    if cameo.owner_id != user.id:
        raise not_owner(cameo_id)
    return cameo
