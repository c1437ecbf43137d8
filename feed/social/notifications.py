"""Notifications: what others did to me or my posts. The ``notifications`` collection.

One document per event and recipient: ``{_id: notif_…, recipient_id, kind,
actor_id, post_id, comment_id, created_at, unread: 1|0}`` (``unread`` is an
integer: nx-27017 stores booleans set by an update as 1, which a query for
``true`` then misses). Kinds: ``like``, ``comment``, ``reply``, ``follow``,
``follow_request`` (to a private account's owner), ``follow_accepted`` (to
the one whose request was approved), ``remix``, and for cameos (``cameo_id``, and ``video_id`` for a use):
``cameo_request`` (to the owner), ``cameo_approved`` / ``cameo_declined`` /
``cameo_revoked`` (to the requester), ``cameo_used`` (to the owner) and
``cameo_removed`` (to a video's creator, when a cameo's owner removed it);
``report_actioned`` (to a reporter, when the moderators acted on the report)
and ``content_removed`` (to an author whose post, comment or cameo the
moderators took down).
Nobody is notified of their own actions. A follow notifies once per
follower (``notify(once=True)``): unfollowing and following again sends
nothing new. Only a like that created
the like document notifies, and an unlike that removed it takes the
notification back, so a repeated like (like, unlike, like) leaves one
notification, the latest, with one insert per like. (A like and an unlike of
the same post by the same user racing each other can leave a notification
behind for the like taken back, or two for one like: the unlike's take-back
may land before the like's insert. Deleting before each insert would close
only one of those orders, at one more command per like.)

Each new notification is PUBLISHed on ``{ns}:notifications`` as
``{recipient_id, notification}``; every api process subscribes once and
pushes it to the recipient's WebSocket connections (server.ws.notifications)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from pymongo import ASCENDING, DESCENDING

from core.clock import utcnow
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores

Kind = Literal[
    "like", "comment", "reply", "follow", "follow_request", "follow_accepted", "remix",
    "cameo_request", "cameo_approved", "cameo_declined", "cameo_revoked", "cameo_used", "cameo_removed",
    "report_actioned", "content_removed",
]
KINDS: tuple[str, ...] = (
    "like", "comment", "reply", "follow", "follow_request", "follow_accepted", "remix",
    "cameo_request", "cameo_approved", "cameo_declined", "cameo_revoked", "cameo_used", "cameo_removed",
    "report_actioned", "content_removed",
)
NOTIFY_CHANNEL = "notifications"  # published on stores.key(NOTIFY_CHANNEL)
# the actor of what the moderators do (report_actioned, content_removed): never a user id, so no
# moderator is named to the people they act on (nor are those notices erased with a moderator's account)
MODERATORS = "moderators"


class Notification(msgspec.Struct, kw_only=True):
    id: str
    recipient_id: str
    kind: Kind
    actor_id: str
    post_id: str | None = None
    comment_id: str | None = None
    created_at: datetime
    read: bool = False
    cameo_id: str | None = None
    video_id: str | None = None


class Published(msgspec.Struct):
    """What goes over the notifications channel."""

    recipient_id: str
    notification: Notification


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Published).decode


def decode_published(raw: bytes | str) -> Published:
    return _decode(raw)



def _collection(stores: Stores):
    return stores.db["notifications"]


def _from_doc(doc: dict) -> Notification:
    return Notification(
        id=doc["_id"],
        recipient_id=doc["recipient_id"],
        kind=doc["kind"],
        actor_id=doc["actor_id"],
        post_id=doc.get("post_id"),
        comment_id=doc.get("comment_id"),
        created_at=doc["created_at"],
        read=not doc.get("unread"),
        cameo_id=doc.get("cameo_id"),
        video_id=doc.get("video_id"),
    )


async def ensure_indexes(stores: Stores) -> None:
    await ensure_newest_by_index(stores, "notifications", "recipient_id", "recipient_newest")
    await _collection(stores).create_index([("recipient_id", ASCENDING), ("unread", ASCENDING)], name="recipient_unread")
    await _collection(stores).create_index([("post_id", ASCENDING)], name="post")
    await _collection(stores).create_index(
        [("recipient_id", ASCENDING), ("kind", ASCENDING), ("actor_id", ASCENDING)], name="recipient_kind_actor"
    )


async def notify(
    stores: Stores,
    *,
    recipient_id: str,
    actor_id: str,
    kind: Kind,
    post_id: str | None = None,
    comment_id: str | None = None,
    cameo_id: str | None = None,
    video_id: str | None = None,
    once: bool = False,
    quiet: bool = False,
) -> Notification | None:
    """Store a notification and push it live; None when the actor is the
    recipient, and with ``once`` when the recipient has one of this kind from
    this actor (about this post) already: a follow undone and made again
    notifies once. ``quiet``: stored as read and not pushed (the inbox tells
    the truth, without a new alert)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if recipient_id == actor_id:
        return None
    if once and await _collection(stores).find_one(
        {"recipient_id": recipient_id, "kind": kind, "actor_id": actor_id, "post_id": post_id}, {"_id": 1}
    ):
        return None
    note = Notification(
        id=new_id("notif"),
        recipient_id=recipient_id,
        kind=kind,
        actor_id=actor_id,
        post_id=post_id,
        comment_id=comment_id,
        created_at=utcnow(),
        read=quiet,
        cameo_id=cameo_id,
        video_id=video_id,
    )
    doc = {
        "_id": note.id,
        "recipient_id": recipient_id,
        "kind": kind,
        "actor_id": actor_id,
        "post_id": post_id,
        "comment_id": comment_id,
        "created_at": note.created_at,
    }
    if not quiet:
        doc["unread"] = 1
    if cameo_id is not None:
        doc.update(cameo_id=cameo_id, video_id=video_id)
    await _collection(stores).insert_one(doc)
    if not quiet:
        await stores.redis.publish(stores.key(NOTIFY_CHANNEL), _encode(Published(recipient_id, note)))
    return note


async def retract_like(stores: Stores, *, actor_id: str, post_id: str) -> None:
    """An unlike takes back the like's notification."""
    await _collection(stores).delete_many({"kind": "like", "actor_id": actor_id, "post_id": post_id})


async def list_notifications(stores: Stores, recipient_id: str, *, before: str | None, limit: int) -> list[Notification]:
    """Newest first; ``before`` is the id of the last one of the previous page."""
    query: dict = {"recipient_id": recipient_id}
    if before:
        query["_id"] = {"$lt": before}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_from_doc(doc) async for doc in cursor]


async def unread_since(stores: Stores, recipient_ids: list[str], since: datetime, *, limit: int) -> list[Notification]:
    """The unread notifications of ``recipient_ids`` made at or after ``since``, oldest first
    (what a live push may have missed while its subscription was down)."""
    query = {"recipient_id": {"$in": recipient_ids}, "unread": 1, "created_at": {"$gte": since}}
    cursor = _collection(stores).find(query).sort("created_at", ASCENDING).limit(limit)
    return [_from_doc(doc) async for doc in cursor]


async def unread_count(stores: Stores, recipient_id: str) -> int:
    return await _collection(stores).count_documents({"recipient_id": recipient_id, "unread": 1})


async def mark_read(stores: Stores, recipient_id: str, ids: list[str] | None) -> int:
    """Mark the given notifications (all when ``ids`` is None) of ``recipient_id`` read;
    ids of other recipients or unknown ones are ignored. Returns how many changed."""
    query: dict = {"recipient_id": recipient_id, "unread": 1}
    if ids is not None:
        if not ids:
            return 0
        query["_id"] = {"$in": list(dict.fromkeys(ids))}
    result = await _collection(stores).update_many(query, {"$set": {"unread": 0}})
    return result.modified_count


async def delete_for_post(stores: Stores, post_id: str) -> None:
    await _collection(stores).delete_many({"post_id": post_id})


async def delete_for_cameo(stores: Stores, cameo_id: str) -> None:
    await _collection(stores).delete_many({"cameo_id": cameo_id})


async def delete_for_comment(stores: Stores, comment_id: str) -> None:
    await _collection(stores).delete_many({"comment_id": comment_id})


async def delete_between(stores: Stores, a: str, b: str) -> None:
    """Forget what two users notified each other of (they blocked one another)."""
    await _collection(stores).delete_many({"recipient_id": a, "actor_id": b})
    await _collection(stores).delete_many({"recipient_id": b, "actor_id": a})
