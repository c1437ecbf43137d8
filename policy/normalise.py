"""What a prompt's text goes through before the moderation reads it.

``normalise`` gives the one form every check reads:

- Unicode compatibility forms folded (full-width and mathematical letters
  become plain ones), accents dropped (NFKD, combining marks removed);
- invisible characters removed: every format character (zero-width space and
  joiners, word joiner, byte-order mark, soft hyphen, bidirectional marks)
  and the blank letters (``core.text.BLANKS``: the Hangul fillers, the
  Braille blank), so a prompt of nothing else is empty and "nu\u3164de"
  reads "nude";
- Cyrillic and Greek letters that look like Latin ones, inside a word that
  also has Latin letters, read as those Latin letters ("nudе" with a
  Cyrillic е); a word written wholly in Cyrillic or Greek is left alone;
- lower case; the common digit-and-symbol swaps undone (0 o, 1 i, 3 e, 4 a,
  5 s, 7 t, @ a, $ s) inside words that also hold a letter ("s3xy", "k1d"),
  while numbers standing alone stay numbers ("scene 1", "top 10", "a 12
  year old"); runs of white space collapsed.

``classifier_form`` is what the learned classifier reads: digits kept,
letters spaced out joined, and ``word_senses``: "nude" as a colour written
"beige", and a number that labels a take or a scene written "number"
(``index_numbers``), so neither reads as what the word means elsewhere.

``rule_forms`` adds the readings that undo the tricks that a single form
cannot (the rules try every one; the learned classifier reads the first):

- letters spaced out or split by punctuation ("n u d e", "n.u.d.e", "s-e-x")
  joined back together;
- punctuation inside a word dropped ("se.x", "k*ll");
- letters repeated three times or more cut to one ("nuuude") and to two
  ("killlll");
- 1, | and ! read as l ("ki11 myself") instead of i.

Not undone: letters dropped or swapped ("nde", "ndue"), a letter doubled only
once ("nuude"), words split in two by a space ("nu de"), look-alikes from
scripts other than Cyrillic and Greek, and words in other languages.
"""

from __future__ import annotations

import re
import unicodedata

from core.text import BLANKS

_SPACES = re.compile(r"\s+")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_L = str.maketrans({"0": "o", "1": "l", "|": "l", "!": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})

# Cyrillic and Greek small letters that look like a Latin one (after lower()).
_LOOKALIKES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "ı": "i",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
}
# capitals first: a capital's small letter can look like another Latin letter (Greek Ν, ν: N, v)
_CAPITAL_LOOKALIKES = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y",
    "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X",
}
_LOOKALIKE_TABLE = str.maketrans(_LOOKALIKES)
_CAPITAL_TABLE = str.maketrans(_CAPITAL_LOOKALIKES)
_HAS_CAPITAL_LOOKALIKE = re.compile("[" + "".join(_CAPITAL_LOOKALIKES) + "]")
_MIXED_WORD = re.compile(r"\S*[A-Za-z]\S*")
_HAS_LOOKALIKE = re.compile("[" + "".join(_LOOKALIKES) + "]")
_LATIN_WORD = re.compile(r"\S*[a-z]\S*")

# letters (or digits standing for letters) spaced out or split by punctuation: "n u d e", "n.u.d.e", "s-e-x"
_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z0-9][ .\-_*,·•|/+~]{1,3}){2,}[a-z0-9](?![a-z0-9])")
_SEPARATORS = re.compile(r"[ .\-_*,·•|/+~]")
# punctuation inside a word: "se.x", "k*ll", "n_ude"
_INNER_PUNCT = re.compile(r"(?<=[a-z])[.\-_*'`´·•~+]+(?=[a-z])")
_RUN3 = re.compile(r"([a-z])\1{2,}")
# a word with at least one letter: the only place a digit or symbol can stand for a letter
_HAS_LETTER_WORD = re.compile(r"[^\s]*[a-z][^\s]*")


def _is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf" or ch in BLANKS


def _fold_lookalikes(text: str) -> str:
    if not _HAS_LOOKALIKE.search(text):
        return text
    return _LATIN_WORD.sub(lambda m: m.group(0).translate(_LOOKALIKE_TABLE), text)


def _fold_capitals(text: str) -> str:
    if not _HAS_CAPITAL_LOOKALIKE.search(text):
        return text
    return _MIXED_WORD.sub(lambda m: m.group(0).translate(_CAPITAL_TABLE), text)


def _fold(text: str) -> str:
    """Compatibility forms, accents and invisible characters; look-alikes; lower case."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch) and not _is_invisible(ch))
    return _fold_lookalikes(_fold_capitals(folded).lower())


def _unleet(text: str, table: dict[int, str]) -> str:
    """Digit-for-letter swaps undone in the words that also hold a letter."""
    return _HAS_LETTER_WORD.sub(lambda m: m.group(0).translate(table), text)


def normalise(text: str) -> str:
    """Lower case, accents and invisible characters dropped, look-alike letters and
    digit-for-letter swaps undone, white space collapsed."""
    return _SPACES.sub(" ", _unleet(_fold(text), _LEET)).strip()


# English's one-letter words: one may stand just before or after letters spaced
# out ("a n u d e woman", "I s e x"), and the run would join it in ("anude")
_LONE_WORDS = frozenset("ai")


def _join_run(run: str, keep_lone: bool) -> str:
    joined = _SEPARATORS.sub("", run)
    if not keep_lone:
        return joined
    head = run[0] in _LONE_WORDS and run[1] == " "
    tail = run[-1] in _LONE_WORDS and run[-2] == " "
    letters = joined[1 if head else 0 : len(joined) - (1 if tail else 0)]
    if len(letters) < 3:  # "a b c" and the like: nothing spaced out is left once a lone word is set apart
        return joined
    return (run[0] + " " if head else "") + letters + (" " + run[-1] if tail else "")


def _join_spaced(text: str, keep_lone: bool = False) -> str:
    """Letters spaced out joined; with ``keep_lone``, a one-letter word at either
    end of the run ("a", "i") is left a word of its own."""
    return _SPACED.sub(lambda m: _join_run(m.group(0), keep_lone), text)


def rule_forms(text: str) -> list[str]:
    """The readings of ``text`` that the rules try, ``normalise(text)`` first; no duplicates."""
    folded = _SPACES.sub(" ", _fold(text)).strip()
    base = _unleet(folded, _LEET)
    plain = folded  # digits kept: ages, numbers
    forms = [base, plain]
    for table in (_LEET, _LEET_L):
        start = _unleet(folded, table)
        # letters spaced out may hold swapped digits ("k 1 l l"): joined, they are a word to read again
        joined = _INNER_PUNCT.sub("", _unleet(_join_spaced(start), table))
        forms.extend((start, joined, _RUN3.sub(r"\1", joined), _RUN3.sub(r"\1\1", joined)))
        if _SPACED.search(start):  # a run of spaced letters: read it again with a lone word at its ends set apart
            forms.append(_INNER_PUNCT.sub("", _unleet(_join_spaced(start, keep_lone=True), table)))
    out: list[str] = []
    for form in forms:
        if form not in out:
            out.append(form)
    return out


# the words after which "nude" is a colour ("nude heels", "a nude-tone bra") or art ("nude sculptures"),
# not nudity: the rules leave it alone, and the classifier reads it as "beige" (``colour_senses``; for
# art a simplification), so the word's sexual sense does not carry over
NUDE_COLOUR_NOUNS = (
    r"colou?r|colou?red|lipsticks?|lips?|heels|pumps|shoes|sandals|tones?|toned|palettes?|makeup|nails|eyeshadows?|beige"
    r"|shades?|blush|tights|stockings|bra|dress|gloss|polish|sculptures?|statues?|slingbacks?|stilettos?|boots|flats"
    r"|nail polish|lip liner|gown|chiffon|satin|leather"
)
_NUDE_COLOUR = re.compile(rf"\bnude(?=[- ](?:{NUDE_COLOUR_NOUNS})\b)")


def colour_senses(text: str) -> str:
    """``text`` with "nude" as a colour written "beige" (lower-case text)."""
    return _NUDE_COLOUR.sub("beige", text)


def classifier_form(text: str) -> str:
    """What the learned classifier reads: folded like ``normalise`` but with digits
    kept (ages, numbers), letters spaced out joined, runs of three or more
    letters cut to two, and ``word_senses``."""
    folded = _SPACES.sub(" ", _fold(text)).strip()
    return word_senses(_RUN3.sub(r"\1\1", _join_spaced(folded, keep_lone=True)))


# words that a number labels rather than counts or ages: "take 14", "scene 3", "episode 16", "lap 15"
INDEX_WORDS = (
    r"takes?|shots?|scenes?|episodes?|eps?|chapters?|levels?|rounds?|parts?|laps?|acts?|clips?|tracks?|pages?|seasons?"
    r"|stages?|reels?|frames?|slides?|steps?|stops?|exits?|gates?|platforms?|rooms?|floors?|bus|routes?|channels?"
    r"|issues?|volumes?|vol|missions?|quests?|games?|match|matches|holes?|verses?|days?|weeks?|no|nr|number"
)
# ... when what follows the number is the end, punctuation or a small word: "take 14 of the beach scene",
# "scene 3: ...", but not "take 30 pills", "take 14 year olds" or "take 14-year-olds"
_INDEX_ENDS = (
    r"of|in|at|on|from|for|with|and|or|but|to|is|was|the|a|an|we|i|he|she|they|it|you|my|our|his|her|their"
    r"|where|when|while|as|then|begins?|starts?|ends?"
)
_INDEX_NUMBER = re.compile(
    rf"(?<![\w#])((?:(?:{INDEX_WORDS})\.?\s?#?|#)\s?)(\d{{1,4}})(?=\s*$|\s*[^\w\s.,-]|\s+-|\s*[.,](?!\d)|\s+(?:{_INDEX_ENDS})\b)"
)


def index_numbers(text: str) -> str:
    """``text`` (lower case) with a number that labels a take, scene, episode,
    lap and the like written "number", where the end, punctuation or a small
    word follows it: the classifier read numbers from 13 to 17 there as ages
    (4.2% of 1,260 benign prompts such as "take 14 of the beach scene"
    refused, most of them as ``minors``; docs/SAFETY.md). Every other number
    stays ("take 14 year olds", "take 30 pills"), and the rules read the
    digits whatever this does."""
    return _INDEX_NUMBER.sub(lambda m: m.group(1) + "number", text)


def word_senses(text: str) -> str:
    """What the classifier's two readings of a prompt (MiniLM's and the
    n-grams') share: ``colour_senses`` and ``index_numbers``."""
    return index_numbers(colour_senses(text))
