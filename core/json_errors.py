"""What a JSON document that does not decode says about itself.

msgspec answers a ``\\ud800``-``\\udbff`` escape that no low surrogate
follows (``{"a": "\\ud800"}``) with "Input data was truncated", which sends a
reader looking for a cut-off body. ``decode_error_text`` gives msgspec's own
words for an unpaired surrogate there instead, and msgspec's message
otherwise."""

from __future__ import annotations

import re

import msgspec

TRUNCATED = "Input data was truncated"
MALFORMED = "JSON is malformed: "
UNPAIRED = MALFORMED + "invalid utf-16 surrogate pair (a \\ud800-\\udbff escape with no \\udc00-\\udfff escape after it)"
# a high-surrogate escape not itself escaped (an even run of backslashes before it) and not followed by a low one
_LONE_HIGH = re.compile(r"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})")


def decode_error_text(exc: msgspec.DecodeError | str, raw: bytes | str | None) -> str:
    """msgspec's message for ``exc`` (or the message itself), raised decoding
    ``raw``, with an unpaired surrogate escape named as such rather than as a
    truncated input."""
    text = str(exc)
    if text != TRUNCATED or not raw:
        return text
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return UNPAIRED if _LONE_HIGH.search(raw) else text


def http_message(exc: msgspec.DecodeError | str, raw: bytes | str | None) -> str:
    """The message of a 400 ``malformed_json``: "malformed JSON: " and what is wrong."""
    return f"malformed JSON: {decode_error_text(exc, raw).removeprefix(MALFORMED)}"
