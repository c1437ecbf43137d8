"""Profiles, follows and blocks."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import delete, get, patch, post
from litestar.params import Parameter

from accounts import graph, graph_writes, users
from accounts.graph import Relationship, UserPage
from accounts.users import AvatarUrl, Bio, DisplayName, User, check_profile_text
from core.stores import Stores
from feed.social import notifications
from server.auth import AUTH
from server.openapi import errors

UNSET = msgspec.UNSET
Limit = Annotated[int, Parameter(ge=1, le=graph.MAX_LIMIT, description="page size, 1 to 100")]
Cursor = Annotated[str | None, Parameter(max_length=64, description="next_cursor of the previous page")]


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change; absent fields stay as they are, "" clears one."""

    display_name: DisplayName | msgspec.UnsetType = UNSET
    bio: Bio | msgspec.UnsetType = UNSET
    avatar_url: AvatarUrl | msgspec.UnsetType = UNSET

    def __post_init__(self) -> None:
        check_profile_text(self.display_name, self.bio, self.avatar_url)


class RelationshipOut(msgspec.Struct, kw_only=True):
    """The other user, fresh counts included, and how the viewer stands towards them."""

    user: User
    following: bool
    followed_by: bool
    blocking: bool


def _or_none(value):
    return None if value is UNSET else value


async def _target(stores: Stores, handle: str) -> User:
    target = await users.get_by_handle(stores, handle)
    if target is None:
        raise users.no_such_user()
    return target


async def _visible(stores: Stores, viewer: User, handle: str) -> User:
    """The user behind ``handle`` unless unknown or on the other side of a block (404 alike)."""
    target = await _target(stores, handle)
    if target.id != viewer.id and await graph.is_blocked_between(stores, viewer.id, target.id):
        raise users.no_such_user()
    return target


async def _relationship(stores: Stores, viewer: User, target: User) -> RelationshipOut:
    rel = await graph.relationship(stores, viewer.id, target.id)
    fresh = await users.get_user(stores, target.id) or target
    return RelationshipOut(user=fresh, following=rel.following, followed_by=rel.followed_by, blocking=rel.blocking)


@get("/v1/me", tags=["users"], dependencies=AUTH, responses=errors(401))
async def me(user: User) -> User:
    """The signed-in user."""
    return user


@patch("/v1/me", tags=["users"], dependencies=AUTH, responses=errors(401))
async def edit_me(data: ProfilePatch, stores: Stores, user: User) -> User:
    """Edit the signed-in user's display name, bio or avatar URL."""
    updated = await users.update_profile(
        stores,
        user.id,
        display_name=_or_none(data.display_name),
        bio=_or_none(data.bio),
        avatar_url=_or_none(data.avatar_url),
    )
    return updated or user


@get("/v1/users/{handle:str}", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def profile(handle: str, stores: Stores, user: User) -> User:
    """A user's public profile (404 for unknown handles and across a block)."""
    return await _visible(stores, user, handle)


@get("/v1/users/{handle:str}/followers", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def followers(handle: str, stores: Stores, user: User, cursor: Cursor = None, limit: Limit = graph.DEFAULT_LIMIT) -> UserPage:
    """Who follows this user, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    target = await _visible(stores, user, handle)
    return await graph.followers_page(stores, target.id, cursor=cursor, limit=limit, viewer=user.id)


@get("/v1/users/{handle:str}/following", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def following(handle: str, stores: Stores, user: User, cursor: Cursor = None, limit: Limit = graph.DEFAULT_LIMIT) -> UserPage:
    """Whom this user follows, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    target = await _visible(stores, user, handle)
    return await graph.following_page(stores, target.id, cursor=cursor, limit=limit, viewer=user.id)


@post("/v1/users/{handle:str}/follow", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 403, 404))
async def follow(handle: str, stores: Stores, user: User) -> RelationshipOut:
    """Follow a user (idempotent). 403 when you block them, 404 when they block you."""
    target = await _target(stores, handle)
    if await graph_writes.follow(stores, user.id, target.id):
        await notifications.notify(stores, recipient_id=target.id, actor_id=user.id, kind="follow", once=True)
    return await _relationship(stores, user, target)


@delete("/v1/users/{handle:str}/follow", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 403, 404))
async def unfollow(handle: str, stores: Stores, user: User) -> RelationshipOut:
    """Stop following a user (a no-op when not following)."""
    target = await _target(stores, handle)
    if target.id != user.id:
        await graph.ensure_not_blocked(stores, user.id, target.id)
        await graph_writes.unfollow(stores, user.id, target.id)
    return await _relationship(stores, user, target)


@post("/v1/users/{handle:str}/block", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def block(handle: str, stores: Stores, user: User) -> Relationship:
    """Block a user (idempotent): follows both ways are removed, and neither can
    see or follow the other. Returns the relationship only: a blocked profile stays hidden."""
    target = await _target(stores, handle)
    await graph_writes.block(stores, user.id, target.id)
    await notifications.delete_between(stores, user.id, target.id)
    return await graph.relationship(stores, user.id, target.id)


@delete("/v1/users/{handle:str}/block", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def unblock(handle: str, stores: Stores, user: User) -> Relationship:
    """Lift a block (a no-op when there is none); earlier follows are not restored."""
    target = await _target(stores, handle)
    await graph_writes.unblock(stores, user.id, target.id)
    return await graph.relationship(stores, user.id, target.id)


ROUTES = [me, edit_me, profile, followers, following, follow, unfollow, block, unblock]
