"""What a live feed session notes of each item it served, by the item's
place in the session (``Served.index``): whether this connection has had a
view of it yet, and the clip's length (a view's watch time is capped at it).

A byte and an integer a place. Kept as a set of post ids and a dict, they
cost about 210 bytes an item (each event's post id is a new string), for
as long as the session lives: up to ``feed.serving.sessions.MAX_SERVED``
items, and the api's memory grew by a few MiB a minute under 500 swipers."""

from __future__ import annotations

from array import array

_UNKNOWN = -1


class ServedNotes:
    def __init__(self) -> None:
        self._viewed = bytearray()
        self._lengths = array("q")

    def _reach(self, place: int) -> None:
        grow = place + 1 - len(self._viewed)
        if grow > 0:
            self._viewed.extend(bytes(grow))
            self._lengths.extend([_UNKNOWN] * grow)

    def note_length(self, place: int, length_ms: int | None) -> None:
        if place < 0:
            return
        self._reach(place)
        self._lengths[place] = _UNKNOWN if length_ms is None else length_ms

    def length(self, place: int) -> int | None:
        if 0 <= place < len(self._lengths) and self._lengths[place] != _UNKNOWN:
            return self._lengths[place]
        return None

    def first_view(self, place: int) -> bool:
        """True the first time it is asked for ``place`` (which it marks viewed)."""
        if place < 0:
            return False
        self._reach(place)
        if self._viewed[place]:
            return False
        self._viewed[place] = 1
        return True
