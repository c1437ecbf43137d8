"""Users and their public profiles.

A user document keeps the handle as typed (``handle``) and lower-cased
(``handle_lc``, unique), so handles are unique case-insensitively while
people keep their spelling. ``followers`` / ``following`` are counters kept by
accounts.graph_writes. The password hash never leaves this module except through
``credentials``."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from accounts import minors
from core.clock import unix, utcnow
from core.errors import Conflict, NotFound
from core.ids import new_id
from core.stores import Stores
from core.text import LINE_SCHEMA, TEXT_SCHEMA, check_not_blank, check_text

HANDLE_MIN, HANDLE_MAX = 3, 30
DISPLAY_NAME_MAX = 50
BIO_MAX = 500
AVATAR_URL_MAX = 500

Handle = Annotated[
    str,
    msgspec.Meta(
        min_length=HANDLE_MIN,
        max_length=HANDLE_MAX,
        pattern=r"^[A-Za-z0-9_]+$",
        description="3 to 30 letters, digits or underscores; unique ignoring case",
    ),
]
DisplayName = Annotated[str, msgspec.Meta(max_length=DISPLAY_NAME_MAX, description="at most 50 characters, one line", extra_json_schema=LINE_SCHEMA)]
Bio = Annotated[str, msgspec.Meta(max_length=BIO_MAX, description="at most 500 characters", extra_json_schema=TEXT_SCHEMA)]
AvatarUrl = Annotated[
    str,
    msgspec.Meta(
        max_length=AVATAR_URL_MAX,
        pattern=r"^(https?://[!-~]+)?$",
        description="an http(s) URL of at most 500 characters; empty to remove",
    ),
]

# msgspec patterns are searched with `re.search`, where `$` also matches
# before a final newline; these full matches close that gap.
_HANDLE_RE = re.compile(r"[A-Za-z0-9_]{%d,%d}" % (HANDLE_MIN, HANDLE_MAX))
_URL_RE = re.compile(r"https?://[!-~]+")  # printable ASCII, no spaces


def valid_handle(handle: str) -> bool:
    return isinstance(handle, str) and _HANDLE_RE.fullmatch(handle) is not None


def check_handle(handle: str) -> None:
    """Raise ValueError unless ``handle`` is a well-formed handle (for request Structs)."""
    if not valid_handle(handle):
        raise ValueError("handle must be 3 to 30 letters, digits or underscores")


def check_profile_text(display_name: Any = None, bio: Any = None, avatar_url: Any = None) -> None:
    """Raise ValueError on control or bidirectional control characters
    (``core.text``) or a malformed URL (for request Structs)."""
    check_text("display_name", display_name, one_line=True)
    check_text("bio", bio)
    check_not_blank("display_name", display_name)
    check_not_blank("bio", bio)
    if isinstance(avatar_url, str) and avatar_url and not _URL_RE.fullmatch(avatar_url):
        raise ValueError("avatar_url must be an http(s) URL")


def handle_key(handle: str) -> str:
    """The case-insensitive form a handle is unique under."""
    return handle.lower()


class User(msgspec.Struct, kw_only=True):
    """The public shape of a user, as the API returns it."""

    id: str
    handle: str
    display_name: str = ""
    bio: str = ""
    avatar_url: str = ""
    created_at: int
    followers: int = 0
    following: int = 0
    # a private account's owner approves each follower (accounts.follow_requests)
    private: bool = False


class Me(User, kw_only=True):
    """A user as their owner sees them (``GET /v1/me``, sign-up and log-in):
    the public shape plus the birth date they declared (never shown to
    others) and whether the account is a minor today (``accounts.minors``)."""

    birth_date: str | None = None  # YYYY-MM-DD; None for accounts from before it was asked
    minor: bool = False


_PUBLIC = {"handle": 1, "display_name": 1, "bio": 1, "avatar_url": 1, "created_at": 1, "followers": 1, "following": 1, "private": 1}
_OWN = {**_PUBLIC, "birth_date": 1}


def _user(doc: dict) -> User:
    return User(
        id=doc["_id"],
        handle=doc["handle"],
        display_name=doc.get("display_name", ""),
        bio=doc.get("bio", ""),
        avatar_url=doc.get("avatar_url", ""),
        created_at=unix(doc["created_at"]) or 0,
        # A counter can dip below zero for a moment while a follow and an
        # unfollow race; never show that.
        followers=max(0, doc.get("followers", 0)),
        following=max(0, doc.get("following", 0)),
        private=bool(doc.get("private", False)),
    )


def owner_view(user: User, birth_date: str | None) -> Me:
    """``user`` as their owner sees them, with the birth date they declared."""
    public = user if type(user) is User else User(**{f: getattr(user, f) for f in User.__struct_fields__})
    return Me(**msgspec.structs.asdict(public), birth_date=birth_date or None, minor=minors.is_minor(birth_date))


def _me(doc: dict) -> Me:
    return owner_view(_user(doc), doc.get("birth_date"))


async def create_user(stores: Stores, handle: str, password_hash: str, birth_date: str | None = None) -> User:
    """Insert a new user (``birth_date``: checked already, ``YYYY-MM-DD``);
    raises Conflict when the handle is taken (ignoring case)."""
    now = utcnow()
    doc = {
        "_id": new_id("user"),
        "handle": handle,
        "handle_lc": handle_key(handle),
        "password_hash": password_hash,
        "display_name": "",
        "bio": "",
        "avatar_url": "",
        "followers": 0,
        "following": 0,
        "created_at": now,
        "updated_at": now,
    }
    if birth_date is not None:
        doc["birth_date"] = birth_date
    try:
        await stores.db.users.insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("that handle is taken", code="handle_taken", details={"handle": handle}) from None
    return _user(doc)


async def get_user(stores: Stores, user_id: str) -> User | None:
    doc = await stores.db.users.find_one({"_id": user_id}, _PUBLIC)
    return _user(doc) if doc else None


async def get_me(stores: Stores, user_id: str) -> Me | None:
    """The user as their owner sees them (birth date included)."""
    doc = await stores.db.users.find_one({"_id": user_id}, _OWN)
    return _me(doc) if doc else None


async def set_birth_date_once(stores: Stores, user_id: str, birth_date: str) -> bool:
    """Declare the birth date of an account that has none (checked already);
    False when one is declared already (it is never changed this way)."""
    result = await stores.db.users.update_one(
        {"_id": user_id, "birth_date": None}, {"$set": {"birth_date": birth_date, "updated_at": utcnow()}}
    )
    return result.modified_count == 1


async def get_by_handle(stores: Stores, handle: str) -> User | None:
    """The user with ``handle``, compared without case; None for unknown or malformed handles."""
    if not valid_handle(handle):
        return None
    doc = await stores.db.users.find_one({"handle_lc": handle_key(handle)}, _PUBLIC)
    return _user(doc) if doc else None


async def get_users(stores: Stores, user_ids: list[str]) -> dict[str, User]:
    """Users by id, for the ids that exist."""
    if not user_ids:
        return {}
    cursor = stores.db.users.find({"_id": {"$in": list(set(user_ids))}}, _PUBLIC)
    return {doc["_id"]: _user(doc) async for doc in cursor}


async def credentials(stores: Stores, handle: str) -> tuple[Me, str] | None:
    """The user behind ``handle`` (as their owner sees them) and their password hash, for logging in."""
    if not valid_handle(handle):
        return None
    doc = await stores.db.users.find_one({"handle_lc": handle_key(handle)}, {**_OWN, "password_hash": 1})
    return (_me(doc), doc["password_hash"]) if doc else None


async def set_password_hash(stores: Stores, user_id: str, password_hash: str) -> None:
    await stores.db.users.update_one(
        {"_id": user_id}, {"$set": {"password_hash": password_hash, "updated_at": utcnow()}}
    )


async def update_profile(
    stores: Stores,
    user_id: str,
    *,
    display_name: str | None = None,
    bio: str | None = None,
    avatar_url: str | None = None,
    private: bool | None = None,
) -> User | None:
    """Set the given profile fields (None leaves a field as it is); returns the updated user."""
    changes = {
        name: value
        for name, value in (("display_name", display_name), ("bio", bio), ("avatar_url", avatar_url), ("private", private))
        if value is not None
    }
    if not changes:
        return await get_user(stores, user_id)
    doc = await stores.db.users.find_one_and_update(
        {"_id": user_id},
        {"$set": {**changes, "updated_at": utcnow()}},
        projection=_PUBLIC,
        return_document=ReturnDocument.AFTER,
    )
    return _user(doc) if doc else None


def no_such_user() -> NotFound:
    """The one error for an unknown handle and for a user hidden by a block."""
    return NotFound("no such user", code="user_not_found")
