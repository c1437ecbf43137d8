"""The audit log: an append-only record of what safety decided and who
decided it. The ``audit`` collection.

One document per event: ``{_id: audit_…, at, actor_id, action, target_kind,
target_id, reason, details}``. Actions: ``report`` (someone reported
something), ``moderation.<action>`` (an administrator acted on a report:
remove, restore, suspend_user, unsuspend_user, revoke_cameo, dismiss),
``cameo.permission`` / ``cameo.paused`` / ``cameo.grant.<approve|decline|revoke>``
(a cameo's owner changed who may use it), and ``prompt.refused`` (a prompt
moderation refused). Nothing in the project updates or deletes an entry;
administrators read them newest first (``GET /v1/admin/audit``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pymongo import DESCENDING

from core.clock import utcnow
from core.ids import new_id
from core.mongo_compat import ensure_newest_by_index
from core.stores import Stores

MAX_REASON = 1000  # characters of ``reason`` kept


class Entry(msgspec.Struct, kw_only=True):
    id: str
    at: datetime
    actor_id: str  # the user who did it ("" for the system)
    action: str
    target_kind: str  # post | comment | user | cameo | report | prompt | grant
    target_id: str
    reason: str = ""
    details: dict[str, Any] = {}


def _collection(stores: Stores):
    return stores.db["audit"]


async def ensure_indexes(stores: Stores) -> None:
    await ensure_newest_by_index(stores, "audit", "action", "action_newest")


async def append(
    stores: Stores,
    *,
    actor_id: str,
    action: str,
    target_kind: str,
    target_id: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> Entry:
    """Record one event (one insert)."""
    entry = Entry(
        id=new_id("audit"),
        at=utcnow(),
        actor_id=actor_id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        reason=reason[:MAX_REASON],
        details=details or {},
    )
    doc = msgspec.to_builtins(entry, builtin_types=(datetime,))
    doc["_id"] = doc.pop("id")
    await _collection(stores).insert_one(doc)
    return entry


async def entries(stores: Stores, *, before: str | None, limit: int, action: str | None = None) -> list[Entry]:
    """Newest first; ``before`` is the id of the last entry of the previous page."""
    query: dict = {}
    if action is not None:
        query["action"] = action
    if before:
        query["_id"] = {"$lt": before}
    cursor = _collection(stores).find(query).sort("_id", DESCENDING).limit(limit)
    out = []
    async for doc in cursor:
        doc["id"] = doc.pop("_id")
        out.append(msgspec.convert(doc, Entry, strict=False))
    return out


async def prompt_refused(stores: Stores, user_id: str, prompt: str, category: str | None, reason: str | None) -> None:
    """A prompt moderation refused: who, which category, and the prompt (cut to ``MAX_REASON``)."""
    await append(
        stores, actor_id=user_id, action="prompt.refused", target_kind="prompt", target_id="", reason=reason or "",
        details={"category": category, "prompt": prompt[:MAX_REASON]},
    )


async def upload_refused(stores: Stores, user_id: str, category: str | None, reason: str | None, field: str) -> None:
    """An uploaded picture or recording that moderation refused: who, which category, which form field."""
    await append(
        stores, actor_id=user_id, action="upload.refused", target_kind="upload", target_id="", reason=reason or "",
        details={"category": category, "field": field},
    )


async def cameo_changed(stores: Stores, owner_id: str, cameo_id: str, what: str, details: dict[str, Any]) -> None:
    """A cameo's owner changed who may use it (``what``: permission, paused, grant.approve …)."""
    await append(stores, actor_id=owner_id, action=f"cameo.{what}", target_kind="cameo", target_id=cameo_id, details=details)
