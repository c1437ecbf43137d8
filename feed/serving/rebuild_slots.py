"""How many shortlist rebuilds that can wait run at once in one api process.

A swipe-stream session whose taste drifted, or whose shortlist aged, keeps
serving from the shortlist it holds and rebuilds it off the path to the next
item (``ForYou.refresh``). Such rebuilds are optional for a while, and they
come in waves: after a restart or a network blip every client reconnects
within a few seconds, each session takes up its user's last shortlist
(``feed.serving.for_you.Shared``), and a few swipes later all of them find a
rebuild due in the same seconds. Each rebuild searches the catalogue index
(on a worker thread at 1M posts) and reads the posts it names; hundreds at
once crowd the threads and the cores, and next items waited behind them
(docs/PERFORMANCE.md, "The tail and the load").

``RebuildSlots`` lets at most ``AT_ONCE`` of them run; a session that finds
every slot taken keeps its rebuild due and tries again at its next event.
Nothing waits: the shortlist it holds still serves, and one that runs low,
or ages past twice ``REBUILD_AFTER_S``, is rebuilt on the pick itself as
before. A plain counter rather than a semaphore, so one instance serves any
event loop."""

from __future__ import annotations

AT_ONCE = 2


class RebuildSlots:
    def __init__(self, at_once: int = AT_ONCE):
        if at_once < 1:
            raise ValueError("at_once must be at least 1")
        self.at_once = at_once
        self.running = 0

    def take(self) -> bool:
        """A slot if one is free (give it back with ``give``)."""
        if self.running >= self.at_once:
            return False
        self.running += 1
        return True

    def give(self) -> None:
        self.running -= 1
