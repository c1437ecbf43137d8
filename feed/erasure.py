"""Erasing a user from the feed (their account is being deleted).

What goes: their posts, with everything hanging off them
(``publishing.delete_post``: likes, comments, shares, notifications, the
counters and the change broadcast); their likes, comments and shares of
other posts, taken back so that those posts' counters drop; the
notifications they received or caused; and their keys in Redis (view and
like histories, seen and hidden sets, taste, openings, feed sessions).

A top-level comment of theirs that others replied to stays as the tombstone
a deletion leaves (no text), with no author, so that the replies stay
readable. Other users' own histories (what they saw or liked) may keep the
ids of deleted posts, which are never rendered (as after any post
deletion)."""

from __future__ import annotations

from core.stores import Stores
from feed import publishing
from feed.serving import openings, seen
from feed.social import comments, counters, likes, views

PAGE = 200


async def _ids(stores: Stores, collection: str, query: dict, field: str = "_id") -> list:
    return [doc[field] async for doc in stores.db[collection].find(query, {field: 1}).limit(PAGE)]


async def erase_posts(stores: Stores, user_id: str) -> int:
    """Delete every post of ``user_id`` as its author would; returns how many."""
    done = 0
    while ids := await _ids(stores, "posts", {"author_id": user_id}):
        for post_id in ids:
            done += await publishing.delete_post(stores, post_id) is not None
    return done


async def erase_activity(stores: Stores, user_id: str) -> None:
    """Take back ``user_id``'s likes, comments and shares of other posts, and
    delete the notifications they received or caused."""
    while post_ids := await _ids(stores, "likes", {"user_id": user_id}, "post_id"):
        for post_id in post_ids:
            await likes.unlike(stores, user_id, post_id)
    while found := [
        comments._from_doc(doc)
        async for doc in stores.db["comments"].find({"author_id": user_id, "deleted": 0}).limit(PAGE)
    ]:
        for comment in found:
            await comments.delete_comment(stores, comment, user_id=user_id, post_author_id="")
    # the tombstones kept for others' replies keep no author
    await stores.db["comments"].update_many({"author_id": user_id}, {"$set": {"author_id": ""}})
    async for doc in stores.db["shares"].find({"user_id": user_id}, {"post_id": 1}):
        if (await stores.db["shares"].delete_one({"_id": doc["_id"]})).deleted_count:
            await counters.bump(stores, doc["post_id"], shares=-1)
    await stores.db["notifications"].delete_many({"$or": [{"recipient_id": user_id}, {"actor_id": user_id}]})


async def erase_keys(stores: Stores, user_id: str) -> None:
    """The user's feed state in Redis: sessions (found by their owner), the
    opening and its place in the builders' queue, histories and seen sets.
    (Taste keys and any other key named after the user go in the server's
    final sweep, ``server.account_deletion``.)"""
    r = stores.redis
    prefix = stores.key("feed", "session", "")  # (sessions.hash_key: "{…}" around the session id)
    async for key in r.scan_iter(match=prefix + "*", count=1000):
        name = key.decode() if isinstance(key, bytes) else key
        if name.endswith(":served"):
            continue
        if (await r.hget(key, "user")) in (user_id.encode(), user_id):
            await r.delete(key, name + ":served")
    await r.zrem(openings.wanted_key(stores), user_id)
    async with r.pipeline(transaction=False) as pipe:
        openings.drop_commands(pipe, stores, user_id)
        pipe.delete(likes.mirror_key(stores, user_id), views.history_key(stores, user_id))
        pipe.delete(seen.seen_key(stores, user_id), seen.hidden_key(stores, user_id))
        await pipe.execute()
    async for key in r.scan_iter(match=views.once_key(stores, user_id, "*"), count=1000):
        await r.delete(key)


async def erase_user(stores: Stores, user_id: str) -> None:
    await erase_posts(stores, user_id)
    await erase_activity(stores, user_id)
    await erase_keys(stores, user_id)
