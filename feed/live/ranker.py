"""The for-you source (``feed.serving.for_you.ForYou``) on this process's
runtime: the one place it is built, for the HTTP pages, the WebSocket
stream and the opening builder alike.

It ranks from the runtime's candidate pool and the catalogue index beyond it, shares shortlists and the seen
memory with the process's other sessions, and (``follow_graph``) asks the
viewer cache for the graph around the viewer before each pick, so a follow
or block made during the session reaches its next pick."""

from __future__ import annotations

from feed.live.runtime import FeedRuntime
from feed.serving.for_you import ForYou
from feed.serving.sessions import SessionState
from feed.viewer import Viewer


def for_you(rt: FeedRuntime, state: SessionState, viewer: Viewer, *, follow_graph: bool = True) -> ForYou:
    """A for-you source for ``state``, not started yet (``open_for_you``, or
    ``ForYou.started`` with what the caller read itself)."""
    graphs = rt.viewers if follow_graph else None
    return ForYou(
        rt.stores, rt.pool, state, viewer, graphs,
        shared=rt.shortlists, seen_memory=rt.seen_memory, catalogue=rt.catalogue, rebuild_slots=rt.rebuild_slots,
    )


async def open_for_you(
    rt: FeedRuntime, state: SessionState, viewer: Viewer, started: tuple | None = None, *, defer_rebuilds: bool = False
) -> ForYou:
    """A started for-you source for ``state``: from ``started``, what
    ``feed.serving.for_you.load_session`` read with the session, or else from
    its own read (``ForYou.prepare``). ``defer_rebuilds``: the swipe stream's
    (``ForYou.defer_rebuilds``)."""
    source = for_you(rt, state, viewer)
    source.defer_rebuilds = defer_rebuilds
    if started is not None:
        await source.started(*started)
    else:
        await source.prepare()
    return source
