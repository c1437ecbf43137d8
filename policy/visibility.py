"""Who may see a post: a pure decision over data its caller fetched.

- ``public``: everyone, except the two sides of a block;
- ``followers``: the author's followers and the author;
- ``private`` ("only me"): the author alone.

The author always sees their own posts. A block hides a post both ways
whatever its visibility."""

from __future__ import annotations

from typing import Literal

from policy.decision import Decision

Visibility = Literal["public", "followers", "private"]
VISIBILITIES: tuple[str, ...] = ("public", "followers", "private")


def can_view_post(*, visibility: str, author_id: str, viewer_id: str, viewer_follows_author: bool, blocked: bool) -> Decision:
    if viewer_id == author_id:
        return Decision.allow()
    if blocked:
        return Decision.refuse("blocked", "a block stands between you and the author")
    if visibility == "public":
        return Decision.allow()
    if visibility == "followers":
        if viewer_follows_author:
            return Decision.allow()
        return Decision.refuse("followers_only", "only the author's followers can see this post")
    if visibility == "private":
        return Decision.refuse("private", "only the author can see this post")
    return Decision.refuse("unknown_visibility", f"unknown visibility {visibility!r}")


def visible_kinds(*, is_author: bool, viewer_follows_author: bool, blocked: bool) -> tuple[str, ...]:
    """The visibilities of one author's posts a viewer may see (for list queries);
    the same rules as ``can_view_post``."""
    if is_author:
        return VISIBILITIES
    if blocked:
        return ()
    return ("public", "followers") if viewer_follows_author else ("public",)
