"""Comments with one level of replies. The ``comments`` collection:
``{_id: comment_…, post_id, author_id, text, level: 0|1, parent_id,
reply_to_id, created_at, deleted: 0|1, reply_count}``. (``level`` and
``deleted`` are integers: on nx-27017 a null-equality filter next to an
``_id`` range matches nothing, and booleans written by an update read back as 1.)

- A top-level comment has ``parent_id`` null. A reply's ``parent_id`` is a
  top-level comment: replying to a reply attaches the new reply to that
  reply's top-level comment (``reply_to_id`` keeps which reply it answered,
  and that reply's author is the one notified).
- Deleting a reply removes it. Deleting a top-level comment that has replies
  leaves a tombstone (text gone, ``deleted`` 1) so its replies stay readable;
  one without replies is removed, and a tombstone goes once its last reply
  does. Deleted comments cannot be replied to.
- The post's ``comments`` counter is the number of live comments, replies
  included: it moves by one on each add and on each delete that took a
  comment away (a tombstone counts as taken away).
- A comment's author may delete it, and so may the post's author.

These functions do not check who may see the post or blocks; callers do."""

from __future__ import annotations

from datetime import datetime

import msgspec
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from core.clock import utcnow
from core.errors import Forbidden, NotFound
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores
from feed.social import counters, notifications
from feed.social.posts import Post

MAX_TEXT = 1000


class Comment(msgspec.Struct, kw_only=True):
    id: str
    post_id: str
    author_id: str
    text: str
    parent_id: str | None = None  # the top-level comment a reply belongs to
    reply_to_id: str | None = None  # the comment a reply answered (top-level or reply)
    created_at: datetime
    deleted: bool = False
    reply_count: int = 0



def _collection(stores: Stores):
    return stores.db["comments"]


def _from_doc(doc: dict) -> Comment:
    return Comment(
        id=doc["_id"],
        post_id=doc["post_id"],
        author_id=doc["author_id"],
        text=doc.get("text") or "",
        parent_id=doc.get("parent_id"),
        reply_to_id=doc.get("reply_to_id"),
        created_at=doc["created_at"],
        deleted=bool(doc.get("deleted")),
        reply_count=int(doc.get("reply_count") or 0),
    )


def comment_not_found(comment_id: str) -> NotFound:
    return NotFound(f"no comment {comment_id!r}", code="comment_not_found")


async def ensure_indexes(stores: Stores) -> None:
    await ensure_newest_by_index(stores, "comments", "post_id", "post_newest")
    await ensure_newest_by_index(stores, "comments", "parent_id", "parent_newest")


async def get_comment(stores: Stores, comment_id: str) -> Comment | None:
    doc = await _collection(stores).find_one({"_id": comment_id})
    return _from_doc(doc) if doc else None


async def add_comment(stores: Stores, *, post: Post, author_id: str, text: str, reply_to: Comment | None = None) -> Comment:
    """Comment on ``post`` or, with ``reply_to`` (a live comment of that post), reply."""
    if reply_to is not None and (reply_to.post_id != post.id or reply_to.deleted):
        raise comment_not_found(reply_to.id)
    parent_id = None if reply_to is None else (reply_to.parent_id or reply_to.id)
    comment = Comment(
        id=new_id("comment"),
        post_id=post.id,
        author_id=author_id,
        text=text,
        parent_id=parent_id,
        reply_to_id=reply_to.id if reply_to else None,
        created_at=utcnow(),
    )
    doc = msgspec.to_builtins(comment, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    doc["deleted"] = 0
    doc["level"] = 0 if parent_id is None else 1
    col = _collection(stores)
    await col.insert_one(doc)
    if parent_id is not None:
        # Counting the reply on its parent is also the check that the parent is
        # still there: a parent removed meanwhile matches nothing, and the reply goes.
        moved = await col.update_one({"_id": parent_id}, {"$inc": {"reply_count": 1}})
        if moved.matched_count != 1:
            await col.delete_one({"_id": comment.id})
            raise comment_not_found(reply_to.id)  # type: ignore[union-attr]
    if not await counters.bump(stores, post.id, comments=1):
        await col.delete_one({"_id": comment.id})
        raise NotFound(f"no post {post.id!r}", code="post_not_found")
    if reply_to is not None:
        await notifications.notify(
            stores, recipient_id=reply_to.author_id, actor_id=author_id, kind="reply", post_id=post.id, comment_id=comment.id
        )
    if reply_to is None or post.author_id != reply_to.author_id:
        await notifications.notify(
            stores, recipient_id=post.author_id, actor_id=author_id, kind="comment", post_id=post.id, comment_id=comment.id
        )
    return comment


def may_delete(comment: Comment, *, user_id: str, post_author_id: str) -> bool:
    return user_id in (comment.author_id, post_author_id)


async def delete_comment(stores: Stores, comment: Comment, *, user_id: str, post_author_id: str) -> bool:
    """Delete a comment as ``user_id`` (its author or the post's author; 403
    otherwise). False when it was already deleted."""
    if not may_delete(comment, user_id=user_id, post_author_id=post_author_id):
        raise Forbidden("only the comment's author or the post's author can delete it", code="not_comment_owner")
    col = _collection(stores)
    if comment.parent_id is None:
        # tombstone first: of two concurrent deletes only one takes the comment away
        doc = await col.find_one_and_update(
            {"_id": comment.id, "deleted": 0},
            {"$set": {"deleted": 1, "text": ""}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return False
        await col.delete_one({"_id": comment.id, "reply_count": 0})  # no replies to keep readable
    else:
        removed = await col.find_one_and_delete({"_id": comment.id})
        if removed is None:
            return False
        await col.update_one({"_id": comment.parent_id}, {"$inc": {"reply_count": -1}})
        await col.delete_one({"_id": comment.parent_id, "deleted": 1, "reply_count": 0})  # a tombstone's last reply
    await counters.bump(stores, comment.post_id, comments=-1)
    await notifications.delete_for_comment(stores, comment.id)
    return True


async def top_level(stores: Stores, post_id: str, *, before: str | None, limit: int) -> tuple[list[Comment], str | None]:
    """A page of a post's top-level comments, newest first, and the next cursor.
    Tombstones are listed only while they have replies."""
    query: dict = {"post_id": post_id, "level": 0}
    if before:
        query["_id"] = {"$lt": before}
    docs = await _collection(stores).find(query).sort("_id", DESCENDING).limit(limit + 1).to_list()
    page = [_from_doc(doc) for doc in docs[:limit]]
    next_cursor = page[-1].id if len(docs) > limit else None
    return [c for c in page if not c.deleted or c.reply_count > 0], next_cursor


async def replies(stores: Stores, comment_id: str, *, after: str | None, limit: int) -> tuple[list[Comment], str | None]:
    """A page of a top-level comment's replies, oldest first, and the next cursor."""
    query: dict = {"parent_id": comment_id}
    if after:
        query["_id"] = {"$gt": after}
    docs = await _collection(stores).find(query).sort("_id", ASCENDING).limit(limit + 1).to_list()
    page = [_from_doc(doc) for doc in docs[:limit]]
    return page, (page[-1].id if len(docs) > limit else None)


async def count_live(stores: Stores, post_id: str) -> int:
    """The live comments of a post, replies included (what the counter must equal)."""
    return await _collection(stores).count_documents({"post_id": post_id, "deleted": 0})


async def delete_for_post(stores: Stores, post_id: str) -> None:
    await _collection(stores).delete_many({"post_id": post_id})
