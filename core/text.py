"""Characters user text may not hold, for every field shown to others
(captions, prompts, comments, profiles): control characters (C0, DEL, C1)
and the invisible bidirectional controls that reorder what follows them
(embeddings, overrides, isolates and the directional marks), which let a
caption or a name display as something other than what it is.

``check_text`` raises ValueError as "field: problem", so a request Struct's
``__post_init__`` turns it into the one validation error shape, with the
field (``server.errors.field_problem``)."""

from __future__ import annotations

import re

# U+061C ARABIC LETTER MARK, U+200E/U+200F LRM/RLM, U+202A-U+202E
# embeddings and overrides (RLO is U+202E), U+2066-U+2069 isolates
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_MULTI_LINE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")  # newlines and tabs allowed
_ONE_LINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029{_BIDI}]")


def bad_character(value: str, *, one_line: bool = False) -> str | None:
    """The first character ``value`` may not hold, or None."""
    found = (_ONE_LINE if one_line else _MULTI_LINE).search(value)
    return found.group() if found else None


def check_text(field: str, value: object, *, one_line: bool = False) -> None:
    """Raise ValueError when ``value`` (a str; anything else passes) holds a
    control or bidirectional control character."""
    if not isinstance(value, str):
        return
    bad = bad_character(value, one_line=one_line)
    if bad is not None:
        what = "line breaks or " if one_line and bad in "\n\r\t\u2028\u2029" else ""
        raise ValueError(f"{field}: must not contain {what}control or bidirectional control characters (found U+{ord(bad):04X})")
