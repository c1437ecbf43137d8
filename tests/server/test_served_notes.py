"""``server.ws.served_notes``: a live session's notes per served place."""

from __future__ import annotations

from server.ws.served_notes import ServedNotes


def test_a_place_is_a_first_view_once_and_keeps_its_own_length():
    notes = ServedNotes()
    notes.note_length(0, 1000)
    notes.note_length(3, 4000)  # places may come with gaps (items resent after a reconnect)
    notes.note_length(2, None)
    assert [notes.length(p) for p in range(5)] == [1000, None, None, 4000, None]
    assert notes.length(-1) is None
    assert notes.first_view(3) and not notes.first_view(3)
    assert notes.first_view(0) and notes.first_view(7) and not notes.first_view(0)
    assert notes.length(7) is None and notes.length(3) == 4000
    assert not notes.first_view(-1)  # no place: never counted as a first view
