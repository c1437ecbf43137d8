"""Authors as posts, comments and notifications show them: the public part
of a user's profile (``accounts.users``). The per-process cache of them is
``feed.live.author_cache``."""

from __future__ import annotations

import msgspec

from accounts.users import User, get_users
from core.stores import Stores


class Author(msgspec.Struct):
    id: str
    handle: str
    display_name: str
    avatar_url: str


def author_of(user: User) -> Author:
    return Author(user.id, user.handle, user.display_name, user.avatar_url)


async def authors(stores: Stores, user_ids: list[str]) -> dict[str, Author]:
    """The public profiles of the users among ``user_ids`` who exist, read from Mongo."""
    found = await get_users(stores, list(dict.fromkeys(user_ids)))
    return {uid: author_of(u) for uid, u in found.items()}
