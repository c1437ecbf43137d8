"""Who is looking: the graph around a viewer, as the caller read it, and
what that viewer may see.

``Viewer`` holds whom the viewer follows, the friends of friends read in the
background, everyone the viewer blocks or is blocked by, and posts from
outside the candidate pool the caller wants considered (``extras``). The
ranking (``feed.ranking.candidates``, ``feed.serving.for_you``) reads it;
the api process keeps one per user current (``feed.live.viewer_cache``).
A caller that read only the edges between the viewer and some authors
(``feed.social.visibility``) makes one of those.

``Viewer.may_see`` is the one place a post meets the visibility rule
(``policy.visibility.can_view_post``).

``ViewerGraphs`` is what a for-you source asks before each pick for the
graph as it stands now (the process's viewer cache answers it), so a
follow or block made during a session reaches its next pick."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from feed.social.posts import Post
from policy.decision import Decision
from policy.visibility import can_view_post

if TYPE_CHECKING:
    from feed.ranking.features import Table


@dataclass
class Viewer:
    """The graph around the viewer, as the caller read it: whom the viewer
    follows, the friends of friends read in the background, everyone the
    viewer blocks or is blocked by, and posts from outside the pool the
    caller wants considered (``extras``; None: none)."""

    user_id: str
    following: set[str] = field(default_factory=set)
    fof: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    extras: Table | None = None
    # what ``gather`` derived from this graph, per pool version (a Viewer is
    # not changed once made: the cache makes a new one when an edge changes)
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key: tuple, make):
        found = self.memo.get(key)
        if found is None:
            if len(self.memo) >= 16:
                self.memo.clear()
            found = self.memo[key] = make()
        return found

    def may_see(self, post: Post) -> Decision:
        """Whether the viewer may see ``post``, by the graph this Viewer holds."""
        return can_view_post(
            visibility=post.visibility,
            author_id=post.author_id,
            viewer_id=self.user_id,
            viewer_follows_author=post.author_id in self.following,
            blocked=post.author_id in self.blocked,
        )


class ViewerGraphs(Protocol):
    async def viewer(self, user_id: str) -> Viewer:
        """The graph around ``user_id`` as it stands now."""
        ...
