"""Takedown: an administrator removes a post, and may restore it.

A removed post leaves the ``posts`` collection for ``removed_posts`` whole
(a tombstone: counters, caption, embedding, plus ``removed_at`` and
``removed_by``), and the ``deleted`` change goes to every api process
(``feed.social.post_changes``), so it leaves every feed on every replica at
once. Its likes, comments and shares stay where they are, unreachable while
the post is gone (every route finds posts through ``posts``), so a restore
brings the post back as it was: the document returns to ``posts`` and the
``updated`` change is told. Its video cannot be published again while the
tombstone stands (``video_removed``)."""

from __future__ import annotations


from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from core.errors import Conflict, FabulaError
from core.stores import Stores
from feed.social import post_changes
from feed.social.posts import Post, _to_post
from feed.social.visibility import view_decision


class PostRemoved(FabulaError):
    status, code = 410, "post_removed"


def post_removed(post_id: str) -> PostRemoved:
    return PostRemoved(f"post {post_id!r} was removed by the moderators", details={"post_id": post_id})


def _removed(stores: Stores):
    return stores.db["removed_posts"]


async def ensure_indexes(stores: Stores) -> None:
    await _removed(stores).create_index([("video_id", ASCENDING)], name="video")
    await _removed(stores).create_index([("author_id", ASCENDING)], name="author")


async def remove_post(stores: Stores, post_id: str, *, by: str, reason: str = "") -> Post | None:
    """Take a post down (tombstone kept); None when there is no such live post."""
    doc = await stores.db["posts"].find_one({"_id": post_id})
    if doc is None:
        return None
    tomb = {**doc, "removed_at": utcnow(), "removed_by": by, "removed_reason": reason}
    await _removed(stores).replace_one({"_id": post_id}, tomb, upsert=True)
    gone = await stores.db["posts"].find_one_and_delete({"_id": post_id})
    if gone is None:  # deleted by its author meanwhile
        await _removed(stores).delete_one({"_id": post_id})
        return None
    post = _to_post(gone)
    await post_changes.announce(stores, "deleted", post)
    return post


async def restore_post(stores: Stores, post_id: str) -> Post | None:
    """Bring a removed post back as it was; None when it is not removed."""
    tomb = await _removed(stores).find_one({"_id": post_id})
    if tomb is None:
        return None
    doc = {k: v for k, v in tomb.items() if k not in ("removed_at", "removed_by", "removed_reason")}
    try:
        await stores.db["posts"].insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("the post or its video is live again already", code="already_published") from None
    await _removed(stores).delete_one({"_id": post_id})
    post = _to_post(doc)
    await post_changes.announce(stores, "updated", post)
    return post


async def removed_post(stores: Stores, post_id: str) -> Post | None:
    """The tombstone of a removed post, as the post it was."""
    doc = await _removed(stores).find_one({"_id": post_id})
    return _to_post(doc) if doc else None


async def video_removed(stores: Stores, video_id: str) -> bool:
    return bool(await _removed(stores).count_documents({"video_id": video_id}, limit=1))


async def refuse_removed_video(stores: Stores, video_id: str) -> None:
    """A video whose post was taken down cannot be published again."""
    if await video_removed(stores, video_id):
        raise Conflict("this video's post was removed by the moderators", code="video_removed", details={"video_id": video_id})


async def delete_for_author(stores: Stores, author_id: str) -> None:
    """Forget an erased account's tombstones."""
    await _removed(stores).delete_many({"author_id": author_id})




async def refuse_if_removed(stores: Stores, post_id: str, viewer_id: str) -> None:
    """410 ``post_removed`` when ``post_id`` was taken down and ``viewer_id``
    could have seen it; otherwise nothing (the caller answers its 404). Read
    only on the way to a 404, so live posts cost nothing more."""
    tomb = await removed_post(stores, post_id)
    if tomb is not None and (await view_decision(stores, tomb, viewer_id)).allowed:
        raise post_removed(post_id)
