"""User search: handles that start with what was typed, ignoring case, in
handle order, paged on the last handle seen.

Left out of what a viewer finds: users on either side of a block with the
viewer, and minors the viewer may not find (``accounts.minors.visible_in_search``:
an adult finds a minor only when one of them follows the other; minors find
each other). The page can then be shorter than asked; ``next_cursor`` still
moves on, and is None once no handle is left."""

from __future__ import annotations

import re

from accounts import graph, minors, users
from accounts.graph import UserPage
from core.errors import BadRequest
from core.stores import Stores

QUERY_MAX = users.HANDLE_MAX
QUERY_PATTERN = "^[A-Za-z0-9_]+$"  # and 1 to QUERY_MAX of them; the OpenAPI document states it
_QUERY_RE = re.compile(QUERY_PATTERN)
_ROUNDS = 5  # batches read for one page at most (hidden users make a batch come up short)
_PROJECTION = {**users._PUBLIC, "handle_lc": 1, "birth_date": 1}


def check_query(q: str) -> str:
    """The lower-cased query; 400 ``invalid_query`` unless 1 to 30 letters, digits or underscores."""
    if not isinstance(q, str) or len(q) > QUERY_MAX or not _QUERY_RE.fullmatch(q):
        raise BadRequest(f"q must be 1 to {QUERY_MAX} letters, digits or underscores (the start of a handle)", code="invalid_query")
    return q.lower()


async def _shown(stores: Stores, viewer_id: str, viewer_minor: bool, docs: list[dict]) -> list[dict]:
    ids = [doc["_id"] for doc in docs if doc["_id"] != viewer_id]
    hidden = await graph.blocked_among(stores, viewer_id, ids)
    out = []
    for doc in docs:
        if doc["_id"] in hidden:
            continue
        if doc["_id"] != viewer_id and minors.is_minor(doc.get("birth_date")) and not viewer_minor:
            rel = await graph.relationship(stores, viewer_id, doc["_id"])
            if not minors.visible_in_search(
                viewer_minor=viewer_minor, target_minor=True, following=rel.following, followed_by=rel.followed_by
            ):
                continue
        out.append(doc)
    return out


async def search_users(
    stores: Stores, viewer_id: str, q: str, *, cursor: str | None = None, limit: int = graph.DEFAULT_LIMIT
) -> UserPage:
    """Users whose handle starts with ``q`` (ignoring case) that ``viewer_id`` may find."""
    prefix = check_query(q)
    if not 1 <= limit <= graph.MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {graph.MAX_LIMIT}", code="invalid_limit")
    if cursor is not None and not (users.valid_handle(cursor) and cursor == cursor.lower() and cursor.startswith(prefix)):
        raise BadRequest("invalid cursor", code="invalid_cursor")
    viewer_minor = await minors.is_minor_user(stores, viewer_id)
    after = cursor
    found: list[dict] = []
    exhausted = False
    for _ in range(_ROUNDS):
        bounds: dict = {"$lt": prefix + "\x7f"}  # handles are ASCII letters, digits and "_", all below DEL
        bounds["$gt" if after else "$gte"] = after or prefix
        batch = await stores.db.users.find({"handle_lc": bounds}, _PROJECTION).sort("handle_lc", 1).limit(limit + 1).to_list()
        exhausted = len(batch) <= limit
        batch = batch[:limit]
        if batch:
            after = batch[-1]["handle_lc"]
        for doc in await _shown(stores, viewer_id, viewer_minor, batch):
            if len(found) < limit:
                found.append(doc)
                last_taken = doc["handle_lc"]
        if len(found) >= limit or exhausted:
            break
    if len(found) >= limit:
        # more may follow the last one shown (the rest of this batch is read again next time)
        next_cursor = last_taken if not (exhausted and after == last_taken) else None
    else:
        next_cursor = None if exhausted else after
    return UserPage(data=[users._user(doc) for doc in found], next_cursor=next_cursor)
