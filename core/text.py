"""Characters user text may not hold, for every field shown to others
(captions, prompts, comments, profiles): control characters (C0, DEL, C1)
and the invisible bidirectional controls that reorder what follows them
(embeddings, overrides, isolates and the directional marks), which let a
caption or a name display as something other than what it is.

``check_text`` raises ValueError as "field: problem", so a request Struct's
``__post_init__`` turns it into the one validation error shape, with the
field (``server.errors.field_problem``). ``check_not_blank`` refuses text
that is not empty yet shows nothing: only spaces and invisible characters
(a zero-width space, a BOM, a soft hyphen, the Hangul and Braille blanks)."""

from __future__ import annotations

import re
import unicodedata

# U+061C ARABIC LETTER MARK, U+200E/U+200F LRM/RLM, U+202A-U+202E
# embeddings and overrides (RLO is U+202E), U+2066-U+2069 isolates
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_MULTI_LINE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")  # newlines and tabs allowed
_ONE_LINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029{_BIDI}]")


def bad_character(value: str, *, one_line: bool = False) -> str | None:
    """The first character ``value`` may not hold, or None."""
    found = (_ONE_LINE if one_line else _MULTI_LINE).search(value)
    return found.group() if found else None


# characters that render as nothing but are not Unicode format characters (category Cf) nor spaces
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def is_blank(value: str) -> bool:
    """Whether ``value`` shows nothing: every character a space, a format
    character (Cf: zero-width space and joiners, BOM, soft hyphen, …) or a
    blank filler. The empty string is blank."""
    return all(c.isspace() or c in _BLANKS or unicodedata.category(c) == "Cf" for c in value)


def check_not_blank(field: str, value: object) -> None:
    """Raise ValueError when ``value`` (a str; anything else passes) is not
    empty but shows nothing (``is_blank``)."""
    if isinstance(value, str) and value and is_blank(value):
        raise ValueError(f"{field}: must show something: it holds only spaces or invisible characters")


def check_text(field: str, value: object, *, one_line: bool = False) -> None:
    """Raise ValueError when ``value`` (a str; anything else passes) holds a
    control or bidirectional control character."""
    if not isinstance(value, str):
        return
    bad = bad_character(value, one_line=one_line)
    if bad is not None:
        what = "line breaks or " if one_line and bad in "\n\r\t\u2028\u2029" else ""
        raise ValueError(f"{field}: must not contain {what}control or bidirectional control characters (found U+{ord(bad):04X})")
