"""Who is looking: the graph around a viewer, as the caller read it, and
what that viewer may see.

``Viewer`` holds whom the viewer follows, the friends of friends read in the
background, everyone the viewer blocks or is blocked by, and posts from
outside the candidate pool the caller wants considered (``extras``). The
ranking (``feed.ranking.candidates``, ``feed.serving.for_you``) reads it;
the api process keeps one per user current (``feed.live.viewer_cache``).

``ViewerGraphs`` is what a for-you source asks before each pick for the
graph as it stands now (the process's viewer cache answers it), so a
follow or block made during a session reaches its next pick."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

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


class ViewerGraphs(Protocol):
    async def viewer(self, user_id: str) -> Viewer:
        """The graph around ``user_id`` as it stands now."""
        ...
