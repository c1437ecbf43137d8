"""Cameo mentions in a prompt: ``@handle`` (that person's own cameo) and
``@handle.character`` (a character cameo of that person).

A pure parser, no I/O; ``cameos.resolve`` looks the mentions up.

Rules:

- ``handle`` follows the account handle grammar (``accounts.users``): 3 to 30
  ASCII letters, digits or underscores. policy imports only core, so the
  grammar is restated here; a test keeps the two in step.
- ``character`` is 1 to 30 letters, digits or underscores after one dot.
  A dot with no such name after it ("with @ada.") ends the sentence, it does
  not start a character.
- The ``@`` must not follow a word character or one of ``. + - / @``: the
  ``@`` of an e-mail address (``ada@example.com``), of a path or URL
  (``example.com/@ada``) or a doubled ``@@ada`` is not a mention.
- The mention must end there: a handle longer than 30 characters, or one
  followed straight by another word character, is no mention at all.
- Handles compare without case (as accounts do); character names too.
  A mention repeated in one prompt counts once.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec

HANDLE_MIN, HANDLE_MAX = 3, 30
CHARACTER_MAX = 30
MAX_MENTIONS = 8  # distinct cameos one prompt may mention

_MENTION = re.compile(
    r"(?<![\w.+\-/@])"  # not inside an e-mail address, a URL path or a word
    r"@(?P<handle>[A-Za-z0-9_]{%d,%d})" % (HANDLE_MIN, HANDLE_MAX)
    + r"(?:\.(?P<character>[A-Za-z0-9_]{1,%d}))?" % CHARACTER_MAX
    + r"(?![A-Za-z0-9_])"  # the name ends here
    + r"(?!\.[A-Za-z0-9_])"  # ... and is not the start of a longer dotted name (ada.b.c)
)
_CHARACTER_RE = re.compile(r"[a-z0-9_]{1,%d}" % CHARACTER_MAX)
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


class Mention(msgspec.Struct, frozen=True, kw_only=True):
    handle: str  # as typed
    character: str | None = None  # as typed; None: the person's own cameo
    start: int  # where the ``@`` is in the prompt
    end: int  # one past the last character of the mention

    @property
    def key(self) -> tuple[str, str | None]:
        """What identifies the cameo: (handle, character) in lower case."""
        return self.handle.lower(), (self.character.lower() if self.character else None)

    @property
    def text(self) -> str:
        """The canonical spelling, ``@handle`` or ``@handle.character``, in lower case."""
        handle, character = self.key
        return f"@{handle}.{character}" if character else f"@{handle}"


def parse_mentions(prompt: str) -> list[Mention]:
    """Every distinct mention in ``prompt``, in order of first appearance."""
    seen: set[tuple[str, str | None]] = set()
    out: list[Mention] = []
    for match in _MENTION.finditer(prompt):
        mention = Mention(handle=match["handle"], character=match["character"], start=match.start(), end=match.end())
        if mention.key not in seen:
            seen.add(mention.key)
            out.append(mention)
    return out


def strip_mentions(prompt: str) -> str:
    """The prompt with its mentions removed (for checks that read the words around them)."""
    return _MENTION.sub(" ", prompt)


def character_mention(name: str) -> str:
    """The mention name a character called ``name`` gets: accents folded, lower case, runs of
    other characters turned into one underscore, at most 30 characters;
    ``""`` when nothing usable is left (the caller refuses such a name)."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    slug = _NOT_NAME.sub("_", folded.lower()).strip("_")
    return slug[:CHARACTER_MAX].rstrip("_")


def valid_character_mention(value: str) -> bool:
    return isinstance(value, str) and _CHARACTER_RE.fullmatch(value) is not None
