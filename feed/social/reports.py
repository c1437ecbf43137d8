"""Reports: someone tells the moderators that a post, comment, user or
cameo breaks the rules. The ``reports`` collection.

``{_id: report_…, reporter_id, target_kind, target_id, owner_id, reason,
text, state, created_at, action, note, handled_by, handled_at}``: ``owner_id``
is whoever the report is about (the post's or comment's author, the user,
the cameo's owner). A person reports an object once: a unique index on
(reporter, kind, target) makes a second report the first one again. A report
starts ``open`` and an administrator closes it ``actioned`` or ``dismissed``
(``server.routes.reports``); acting on one closes every open report of the
same object."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from core.clock import utcnow
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores

Reason = Literal["sexual", "minors", "violence", "self_harm", "hate", "harassment", "likeness", "illegal", "spam", "other"]
TargetKind = Literal["post", "comment", "user", "cameo"]
State = Literal["open", "actioned", "dismissed"]
MAX_TEXT = 1000


class Report(msgspec.Struct, kw_only=True):
    id: str
    reporter_id: str
    target_kind: TargetKind
    target_id: str
    owner_id: str
    reason: Reason
    text: str = ""
    state: State = "open"
    created_at: datetime
    action: str | None = None
    note: str = ""
    handled_by: str | None = None
    handled_at: datetime | None = None


def _collection(stores: Stores):
    return stores.db["reports"]


def _from_doc(doc: dict) -> Report:
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return msgspec.convert(doc, Report, strict=False)


async def ensure_indexes(stores: Stores) -> None:
    col = _collection(stores)
    await col.create_index(
        [("reporter_id", ASCENDING), ("target_kind", ASCENDING), ("target_id", ASCENDING)], unique=True, name="one_per_reporter"
    )
    await ensure_newest_by_index(stores, "reports", "state", "state_newest")
    await col.create_index([("target_kind", ASCENDING), ("target_id", ASCENDING)], name="target")


async def file_report(
    stores: Stores, *, reporter_id: str, target_kind: TargetKind, target_id: str, owner_id: str, reason: Reason, text: str
) -> tuple[Report, bool]:
    """Store a report; (the report, True) when new, (the earlier one, False)
    when this reporter already reported this object."""
    report = Report(
        id=new_id("report"),
        reporter_id=reporter_id,
        target_kind=target_kind,
        target_id=target_id,
        owner_id=owner_id,
        reason=reason,
        text=text,
        created_at=utcnow(),
    )
    doc = msgspec.to_builtins(report, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    try:
        await _collection(stores).insert_one(doc)
        return report, True
    except DuplicateKeyError:
        found = await _collection(stores).find_one({"reporter_id": reporter_id, "target_kind": target_kind, "target_id": target_id})
        if found is None:  # removed in between (the reporter's account went): not worth a retry
            raise
        return _from_doc(found), False


async def get_report(stores: Stores, report_id: str) -> Report | None:
    doc = await _collection(stores).find_one({"_id": report_id})
    return _from_doc(doc) if doc else None


async def list_reports(stores: Stores, *, state: State, before: str | None, limit: int) -> list[Report]:
    """Reports in ``state``, newest first; ``before``: the last id of the previous page."""
    query: dict = {"state": state}
    if before:
        query["_id"] = {"$lt": before}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    return [_from_doc(doc) async for doc in cursor]


async def close(stores: Stores, report: Report, *, state: State, action: str, note: str, by: str) -> list[Report]:
    """Close ``report`` (whatever its state) and every open report of the same
    object with ``state``; returns the reports closed, ``report`` first."""
    changes = {"state": state, "action": action, "note": note, "handled_by": by, "handled_at": utcnow()}
    doc = await _collection(stores).find_one_and_update({"_id": report.id}, {"$set": changes}, return_document=ReturnDocument.AFTER)
    if doc is None:
        return []
    others = [
        _from_doc(d)
        async for d in _collection(stores).find(
            {"target_kind": report.target_kind, "target_id": report.target_id, "state": "open", "_id": {"$ne": report.id}}
        )
    ]
    if others:
        await _collection(stores).update_many({"_id": {"$in": [o.id for o in others]}, "state": "open"}, {"$set": changes})
    return [_from_doc(doc)] + [msgspec.structs.replace(o, **changes) for o in others]


async def delete_by_reporter(stores: Stores, reporter_id: str) -> None:
    await _collection(stores).delete_many({"reporter_id": reporter_id})
