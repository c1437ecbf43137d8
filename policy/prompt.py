"""Prompt moderation: a decision on the text of a generation request.

Layers, in order (``docs/SAFETY.md`` has their figures and blind spots):

1. the prompt must not be empty nor longer than ``MAX_PROMPT_CHARS``;
2. normalisation (``policy.normalise``): case, accents, invisible
   characters, look-alike letters, digit swaps, spaced-out letters, repeats;
3. rules (``policy.prompt_rules``) for the unambiguous words and phrases;
4. the learned classifier (``policy.moderation_model``) for the rest, with
   stricter thresholds when the prompt puts a cameo or a real person on
   screen; a prompt of fewer than two words (besides fillers and numbers,
   e.g. "scene 1") gives it nothing to judge and is left to the rules;
5. real people (``policy.public_figures`` and the rules for offices such as
   "the president of France"): refused unless the name is one of the
   cameos the creator may use.

A refusal names one category (``policy.categories``; the most severe one
found) and says why in a sentence. ``@mentions`` are taken out of the text
before the checks: whom they name is ``policy.likeness``'s decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from policy import moderation_model
from policy.categories import REASONS
from policy.decision import Decision
from policy.mentions import parse_mentions, strip_mentions
from policy.normalise import normalise, rule_forms
from policy.prompt_rules import first_match
from policy.public_figures import Figure, find_figures, name_key, usable

__all__ = [
    "MAX_PROMPT_CHARS", "Assessment", "Screen", "assess_prompt", "load_models", "moderate_prompt", "normalise",
    "screen_prompt",
]

MAX_PROMPT_CHARS = 2000


class Screen(msgspec.Struct, frozen=True, kw_only=True):
    """What the layers before the classifier found."""

    rule: str | None = None  # the category of the first rule that matched
    rule_words: str | None = None  # the words it matched
    figures: tuple[Figure, ...] = ()  # real people named who are not usable cameos
    cameo_figures: tuple[Figure, ...] = ()  # real people named who are usable cameos


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """The decision with how it was reached (for the bench, tests and audit entries)."""

    decision: Decision
    layer: str | None = None  # "length" | "rules" | "classifier" | "names"; None when allowed
    strict: bool = False  # whether the classifier ran with the strict thresholds
    probabilities: dict[str, float] = {}


_WORD = re.compile(r"[a-z]{2,}")
_FILLER = frozenset({"a", "an", "the", "of", "and", "or", "in", "on", "at", "to", "for", "my", "our", "it", "is", "me"})
MIN_CLASSIFIER_WORDS = 2


def judgeable(text: str) -> bool:
    """Whether the classifier has enough to read: two words of two letters or more
    besides fillers ("scene 1", "video 16" and "surprise me" are not; the rules
    and the names list still read every prompt)."""
    words = [w for w in _WORD.findall(normalise(text)) if w not in _FILLER]
    return len(words) >= MIN_CLASSIFIER_WORDS


def screen_prompt(prompt: str, cameo_names: frozenset[str] = frozenset()) -> Screen:
    """Rules and names only (no model): the cheap layers."""
    text = strip_mentions(prompt)
    match = first_match(rule_forms(text))
    named = find_figures(text)
    return Screen(
        rule=match[0].category if match else None,
        rule_words=match[1] if match else None,
        figures=tuple(f for f in named if not usable(f, cameo_names)),
        cameo_figures=tuple(f for f in named if usable(f, cameo_names)),
    )


def _refuse(category: str, detail: str | None = None) -> Decision:
    reason = REASONS[category]
    return Decision.refuse(category, f"{reason} {detail}" if detail else reason)


def assess_prompt(
    prompt: str,
    *,
    cameo_names: Iterable[str] = (),
    has_cameo: bool | None = None,
    probabilities: dict[str, float] | None = None,
    strict: bool = False,
) -> Assessment:
    """``moderate_prompt`` with how the decision was reached. ``probabilities``:
    the classifier's, when the caller computed them already.

    The classifier embeds one prompt per call: the 8-bit copy quantises its
    inputs per batch, so a prompt embedded in a batch can score a little
    differently from the same prompt alone, as the api sees it."""
    if not normalise(prompt):
        return Assessment(decision=Decision.refuse("empty", "The prompt is empty."), layer="length")
    if len(prompt) > MAX_PROMPT_CHARS:
        return Assessment(
            decision=Decision.refuse("too_long", f"The prompt is longer than {MAX_PROMPT_CHARS} characters."), layer="length"
        )
    keys = frozenset(k for k in (name_key(n) for n in cameo_names) if k)
    screen = screen_prompt(prompt, keys)
    if screen.rule is not None and screen.rule != "real_person":
        return Assessment(decision=_refuse(screen.rule), layer="rules")
    if has_cameo is None:
        has_cameo = bool(parse_mentions(prompt))
    strict = bool(strict or has_cameo or screen.figures or screen.cameo_figures or screen.rule == "real_person")
    text = strip_mentions(prompt)
    if probabilities is None:
        probabilities = moderation_model.probabilities(text) if judgeable(text) else {}
    probs = probabilities
    category = moderation_model.flagged(probs, strict) if probs else None
    if category is not None:
        return Assessment(decision=_refuse(category), layer="classifier", strict=strict, probabilities=probs)
    if screen.rule == "real_person":
        detail = f"The prompt names a public office holder ({screen.rule_words!r})."
        return Assessment(decision=_refuse("real_person", detail), layer="rules", strict=strict, probabilities=probs)
    if screen.figures:
        people = ", ".join(f.name for f in screen.figures)
        detail = f"The prompt names {people}, who is not one of your cameos." if len(screen.figures) == 1 else (
            f"The prompt names {people}, who are not among your cameos."
        )
        return Assessment(decision=_refuse("real_person", detail), layer="names", strict=strict, probabilities=probs)
    return Assessment(decision=Decision.allow(), strict=strict, probabilities=probs)




def moderate_prompt(
    prompt: str, *, cameo_names: Iterable[str] = (), has_cameo: bool | None = None, strict: bool = False
) -> Decision:
    """Allow or refuse a prompt.

    ``cameo_names``: the names of the cameos the creator may use (the caller
    resolves them, e.g. "Ada Lovelace" for a granted cameo); a real person
    named in the prompt is allowed only when listed here. ``has_cameo``:
    whether the video puts a cameo on screen; by default, whether the prompt
    has an ``@mention``. Either makes the classifier stricter. ``strict``:
    the strict thresholds whatever the prompt holds (under-18 accounts)."""
    return assess_prompt(prompt, cameo_names=cameo_names, has_cameo=has_cameo, strict=strict).decision


def load_models() -> None:
    """Load the classifier, its embedding model and the names list now (at process
    start), so that the first prompt does not wait for them."""
    moderation_model.load()
    find_figures("warm up")
