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
_BIDI = ((0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))
_MULTI_LINE_RANGES = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), *_BIDI)  # tab and newline allowed (CR, 0x0D, is not)
_ONE_LINE_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0x2028, 0x2029), *_BIDI)  # no line breaks, no tabs


def _ranges(ranges) -> str:
    """A character class's inside, as \\uXXXX escapes (read alike by Python's re and ECMA-262)."""
    return "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges)


_MULTI_LINE = re.compile(f"[{_ranges(_MULTI_LINE_RANGES)}]")
_ONE_LINE = re.compile(f"[{_ranges(_ONE_LINE_RANGES)}]")
# the same rules as JSON Schema patterns, for the OpenAPI document (``Meta(extra_json_schema=TEXT_SCHEMA)``)
TEXT_SCHEMA = {"pattern": f"^[^{_ranges(_MULTI_LINE_RANGES)}]*$"}
LINE_SCHEMA = {"pattern": f"^[^{_ranges(_ONE_LINE_RANGES)}]*$"}


def bad_character(value: str, *, one_line: bool = False) -> str | None:
    """The first character ``value`` may not hold, or None."""
    found = (_ONE_LINE if one_line else _MULTI_LINE).search(value)
    return found.group() if found else None


# characters that render as nothing but are not Unicode format characters (category Cf) nor spaces
BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # the Hangul fillers, the Braille blank


def is_blank(value: str) -> bool:
    """Whether ``value`` shows nothing: every character a space, a format
    character (Cf: zero-width space and joiners, BOM, soft hyphen, …) or a
    blank filler. The empty string is blank."""
    return all(c.isspace() or c in BLANKS or unicodedata.category(c) == "Cf" for c in value)


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
