"""Profiles, follows and blocks, and follow requests.

A private account (``PATCH /v1/me {"private": true}``) approves each
follower: following it makes a request (``requested: true``, the owner is
notified with ``follow_request``), which the owner lists
(``GET /v1/me/follow-requests``) and approves or declines; an approval makes
the follow and notifies the requester (``follow_accepted``). Going public
again approves every waiting request. Followers-only posts show to followers,
so on a private account to those its owner let in; an owner can also remove
a follower (``DELETE /v1/me/followers/{handle}``). See docs/PRIVATE-ACCOUNTS.md.

``GET /v1/me`` shows the owner their birth date and whether the account is
a minor; an account without a birth date (made before it was asked) may
declare one once with ``PATCH /v1/me``. User search (``GET /v1/users?q=``)
finds handles by their start, leaving out minors an adult does not know
(``accounts.search``; docs/SAFETY.md, "Minors")."""

from __future__ import annotations

import datetime
from typing import Annotated

import msgspec
from litestar import delete, get, patch, post
from litestar.params import FromPath, JSONBody, Parameter

from accounts import follow_requests, graph, graph_writes, minors, search, users
from accounts.graph import Relationship, UserPage
from accounts.users import AvatarUrl, Bio, DisplayName, Me, User, check_profile_text
from cameos import store as cameo_store
from core import rate_limit
from core.errors import BadRequest, Conflict, NotFound
from feed import audit
from core.stores import Stores
from feed.social import notifications
from server.auth import AUTH, UserDep
from server.openapi import errors
from server.state import SettingsDep, StoresDep

UNSET = msgspec.UNSET
Limit = Annotated[int, Parameter(ge=1, le=graph.MAX_LIMIT, description="page size, 1 to 100")]
Cursor = Annotated[str | None, Parameter(max_length=64, description="next_cursor of the previous page")]


class ProfilePatch(msgspec.Struct, forbid_unknown_fields=True):
    """The fields to change; absent fields stay as they are, "" clears one."""

    display_name: DisplayName | msgspec.UnsetType = UNSET
    bio: Bio | msgspec.UnsetType = UNSET
    avatar_url: AvatarUrl | msgspec.UnsetType = UNSET
    # true: each follower must be approved (a follow becomes a request); false again approves those waiting
    private: bool | msgspec.UnsetType = UNSET
    birth_date: Annotated[
        datetime.date,
        msgspec.Meta(description="YYYY-MM-DD; only for an account that has none yet (409 birth_date_set otherwise)"),
    ] | msgspec.UnsetType = UNSET

    def __post_init__(self) -> None:
        check_profile_text(self.display_name, self.bio, self.avatar_url)


class RelationshipOut(msgspec.Struct, kw_only=True):
    """The other user, fresh counts included, and how the viewer stands towards them."""

    user: User
    following: bool
    followed_by: bool
    blocking: bool
    requested: bool = False  # I asked to follow them (a private account) and wait for their answer
    requested_by: bool = False  # they asked to follow me


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
    asked, asked_by = await follow_requests.pending(stores, viewer.id, target.id)
    fresh = await users.get_user(stores, target.id) or target
    return RelationshipOut(
        user=fresh, following=rel.following, followed_by=rel.followed_by, blocking=rel.blocking, requested=asked, requested_by=asked_by
    )


async def _me(stores: Stores, user: User) -> Me:
    return await users.get_me(stores, user.id) or users.owner_view(user, None)


@get("/v1/me", tags=["users"], dependencies=AUTH, responses=errors(401))
async def me(stores: StoresDep, user: UserDep) -> Me:
    """The signed-in user, with the birth date they declared (shown to no one
    else) and whether the account is a minor."""
    return await _me(stores, user)


def _birth_date_set() -> Conflict:
    return Conflict("the birth date is set already and cannot be changed here", code="birth_date_set")


async def _declare_birth_date(stores: Stores, user: User, birth: datetime.date) -> None:
    """Set the birth date of an account that has none; a minor's cameos open
    to ``everyone`` drop to ``mutuals`` (a minor's cannot be used by everyone).
    An account that has one is told so (409) whatever the date sent."""
    me = await users.get_me(stores, user.id)
    if me is not None and me.birth_date:
        raise _birth_date_set()
    birth_date = minors.check_birth_date(birth)
    if not await users.set_birth_date_once(stores, user.id, birth_date):  # set meanwhile
        raise _birth_date_set()
    if minors.is_minor(birth_date):
        for cameo in await cameo_store.list_owned(stores, user.id):
            if cameo.permission == "everyone":
                await cameo_store.update_cameo(stores, cameo.id, user.id, {"permission": "mutuals"})
                await audit.cameo_changed(stores, user.id, cameo.id, "permission", {"permission": "mutuals", "why": "minor"})


@patch("/v1/me", tags=["users"], dependencies=AUTH, responses=errors(401, 403, 409, 422))
async def edit_me(data: JSONBody[ProfilePatch], stores: StoresDep, user: UserDep) -> Me:
    """Edit the signed-in user's display name, bio or avatar URL, or make the
    account private (each follower must be approved) or public again (which
    approves every waiting request). ``birth_date`` declares the birth date
    of an account that has none (accounts from before it was asked): once
    only (409 ``birth_date_set``), with sign-up's checks (403 ``too_young``,
    422 ``invalid_birth_date``); it is checked before anything else changes."""
    if data.birth_date is not UNSET:
        await _declare_birth_date(stores, user, data.birth_date)
    updated = await users.update_profile(
        stores,
        user.id,
        display_name=_or_none(data.display_name),
        bio=_or_none(data.bio),
        avatar_url=_or_none(data.avatar_url),
        private=_or_none(data.private),
    )
    if data.private is False:
        for requester in await follow_requests.approve_all(stores, user.id):
            await notifications.notify(stores, recipient_id=requester, actor_id=user.id, kind="follow_accepted")
    return await _me(stores, updated or user)


@get("/v1/users", tags=["users"], dependencies=AUTH, responses=errors(400, 401, 429))
async def search_users(
    stores: StoresDep,
    settings: SettingsDep,
    user: UserDep,
    q: Annotated[
        str,
        Parameter(
            min_length=1, max_length=search.QUERY_MAX,
            schema_extra={"pattern": search.QUERY_PATTERN},  # stated, and checked by search as 400 invalid_query
            description="the start of a handle, ignoring case: letters, digits and underscores (else 400 invalid_query)",
        ),
    ],
    cursor: Annotated[str | None, Parameter(max_length=64, description="next_cursor of the previous page")] = None,
    limit: Limit = graph.DEFAULT_LIMIT,
) -> UserPage:
    """Users whose handle starts with ``q`` (ignoring case), in handle order.
    Users across a block are left out, and so are minors from an adult who
    neither follows them nor is followed by them (docs/SAFETY.md, "Minors");
    a page can then be shorter than ``limit``. Pass ``next_cursor`` back as
    ``cursor`` for the next page (None at the end). Each page counts against
    ``FABULA_RATE_SEARCH`` (429 ``rate_limited``)."""
    await rate_limit.enforce(stores, rate_limit.rules(settings).search, user.id, message="too many searches; try again later")
    return await search.search_users(stores, user.id, q, cursor=cursor, limit=limit)


@get("/v1/users/{handle:str}", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def profile(handle: FromPath[str], stores: StoresDep, user: UserDep) -> User:
    """A user's public profile (404 for unknown handles and across a block)."""
    return await _visible(stores, user, handle)


@get("/v1/users/{handle:str}/relationship", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def relationship(handle: FromPath[str], stores: StoresDep, user: UserDep) -> RelationshipOut:
    """How I stand towards this user: ``following``, ``followed_by``, ``requested`` (I
    asked to follow their private account and wait), ``requested_by`` (they asked me),
    ``blocking``, with their profile (404 for an unknown handle and across a block)."""
    return await _relationship(stores, user, await _visible(stores, user, handle))


@get("/v1/users/{handle:str}/followers", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def followers(
    handle: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = graph.DEFAULT_LIMIT
) -> UserPage:
    """Who follows this user, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    target = await _visible(stores, user, handle)
    return await graph.followers_page(stores, target.id, cursor=cursor, limit=limit, viewer=user.id)


@get("/v1/users/{handle:str}/following", tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def following(
    handle: FromPath[str], stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = graph.DEFAULT_LIMIT
) -> UserPage:
    """Whom this user follows, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    target = await _visible(stores, user, handle)
    return await graph.following_page(stores, target.id, cursor=cursor, limit=limit, viewer=user.id)


@post("/v1/users/{handle:str}/follow", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 403, 404, 429))
async def follow(handle: FromPath[str], stores: StoresDep, user: UserDep) -> RelationshipOut:
    """Follow a user (idempotent). A private account is asked instead: the
    answer says ``requested: true`` until its owner approves (then
    ``following: true``) or declines. 403 when you block them, 404 when they block you."""
    target = await _target(stores, handle)
    if target.id == user.id:
        raise BadRequest("you cannot follow yourself", code="self_follow")
    await graph.ensure_not_blocked(stores, user.id, target.id)
    await _count_graph_write(stores, user)
    if target.private and not await graph.is_following(stores, user.id, target.id):
        if await follow_requests.request(stores, user.id, target.id):
            await notifications.notify(stores, recipient_id=target.id, actor_id=user.id, kind="follow_request", once=True)
    elif await graph_writes.follow(stores, user.id, target.id):
        await notifications.notify(stores, recipient_id=target.id, actor_id=user.id, kind="follow", once=True)
    return await _relationship(stores, user, target)


@delete("/v1/users/{handle:str}/follow", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 403, 404, 429))
async def unfollow(handle: FromPath[str], stores: StoresDep, user: UserDep) -> RelationshipOut:
    """Stop following a user, or take back a request to follow them (a no-op when neither)."""
    target = await _target(stores, handle)
    if target.id != user.id:
        await graph.ensure_not_blocked(stores, user.id, target.id)
    await _count_graph_write(stores, user)
    if target.id != user.id:
        await follow_requests.cancel(stores, user.id, target.id)
        await graph_writes.unfollow(stores, user.id, target.id)
    return await _relationship(stores, user, target)


async def _count_graph_write(stores: Stores, user: User) -> None:
    """Follows, unfollows, blocks, unblocks and removed followers share one limit per user
    (``FABULA_RATE_FOLLOWS``, 429): each write reaches every api process's graph cache.
    Counted once the request is found valid: a 400, 403 or 404 takes nothing."""
    await rate_limit.enforce(stores, rate_limit.rules(stores.settings).follows, user.id, message="too many follows and blocks; try again later")


def _no_request(handle: str) -> NotFound:
    return NotFound(f"no follow request from {handle!r}", code="follow_request_not_found")


@get("/v1/me/follow-requests", tags=["users"], dependencies=AUTH, responses=errors(401))
async def my_follow_requests(stores: StoresDep, user: UserDep, cursor: Cursor = None, limit: Limit = graph.DEFAULT_LIMIT) -> UserPage:
    """Who asked to follow me (a private account), newest first; pass ``next_cursor`` back as ``cursor``."""
    return await follow_requests.requests_page(stores, user.id, cursor=cursor, limit=limit)


@post("/v1/me/follow-requests/{handle:str}/approve", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def approve_follow_request(handle: FromPath[str], stores: StoresDep, user: UserDep) -> RelationshipOut:
    """Let a requester follow me: they become a follower (``followed_by: true``) and are notified."""
    requester = await _visible(stores, user, handle)
    if not await follow_requests.approve(stores, user.id, requester.id):
        raise _no_request(handle)
    await notifications.notify(stores, recipient_id=requester.id, actor_id=user.id, kind="follow_accepted")
    return await _relationship(stores, user, requester)


@post("/v1/me/follow-requests/{handle:str}/decline", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404))
async def decline_follow_request(handle: FromPath[str], stores: StoresDep, user: UserDep) -> RelationshipOut:
    """Turn a request down (the requester is not told; they may ask again)."""
    requester = await _visible(stores, user, handle)
    if not await follow_requests.decline(stores, user.id, requester.id):
        raise _no_request(handle)
    return await _relationship(stores, user, requester)


@delete("/v1/me/followers/{handle:str}", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404, 429))
async def remove_follower(handle: FromPath[str], stores: StoresDep, user: UserDep) -> RelationshipOut:
    """Remove one of my followers (a no-op when they do not follow me): they no
    longer see my followers-only posts, and on a private account must ask again."""
    follower = await _visible(stores, user, handle)
    await _count_graph_write(stores, user)
    await graph_writes.unfollow(stores, follower.id, user.id)
    return await _relationship(stores, user, follower)


@post("/v1/users/{handle:str}/block", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404, 429))
async def block(handle: FromPath[str], stores: StoresDep, user: UserDep) -> Relationship:
    """Block a user (idempotent): follows both ways are removed, and neither can
    see or follow the other. Returns the relationship only: a blocked profile stays hidden."""
    target = await _target(stores, handle)
    if target.id == user.id:
        raise BadRequest("you cannot block yourself", code="self_block")
    await _count_graph_write(stores, user)
    await graph_writes.block(stores, user.id, target.id)
    await follow_requests.drop_between(stores, user.id, target.id)
    await notifications.delete_between(stores, user.id, target.id)
    return await graph.relationship(stores, user.id, target.id)


@delete("/v1/users/{handle:str}/block", status_code=200, tags=["users"], dependencies=AUTH, responses=errors(401, 404, 429))
async def unblock(handle: FromPath[str], stores: StoresDep, user: UserDep) -> Relationship:
    """Lift a block (a no-op when there is none); earlier follows are not restored."""
    target = await _target(stores, handle)
    await _count_graph_write(stores, user)
    await graph_writes.unblock(stores, user.id, target.id)
    return await graph.relationship(stores, user.id, target.id)


@get("/v1/me/blocks", tags=["users"], dependencies=AUTH, responses=errors(400, 401, 429))
async def my_blocks(
    stores: StoresDep, settings: SettingsDep, user: UserDep, cursor: Cursor = None, limit: Limit = graph.DEFAULT_LIMIT
) -> UserPage:
    """Whom I block, newest block first, so that I can lift a block (their
    profiles are hidden from me, so this list is where they are found); pass
    ``next_cursor`` back as ``cursor``. Each page counts against
    ``FABULA_RATE_BLOCK_LIST`` (429 ``rate_limited``)."""
    await rate_limit.enforce(stores, rate_limit.rules(settings).block_list, user.id, message="too many pages of blocked accounts; try again later")
    return await graph.blocked_page(stores, user.id, cursor=cursor, limit=limit)


ROUTES = [
    me, edit_me, search_users, profile, relationship, followers, following, follow, unfollow, block, unblock,
    my_follow_requests, approve_follow_request, decline_follow_request, remove_follower, my_blocks,
]
