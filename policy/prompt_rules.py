"""The prompt rule list: one entry per refused category, matched on whole
words after normalisation. Deliberately small and explicit: a first line of
defence that later issues back with learned classifiers on prompts and outputs."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    category: str
    reason: str
    pattern: re.Pattern[str]


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


RULES: tuple[Rule, ...] = (
    Rule(
        "minors",
        "Content sexualising or endangering minors is never allowed.",
        # a sexual term anywhere near a word for a child
        re.compile(
            r"\b(?:child|children|kid|kids|minor|minors|underage|teen|teens|preteen|toddler|schoolgirl|schoolboy|loli)\b"
            r".{0,60}\b(?:nude|naked|sex|sexual|sexy|erotic|porn|lingerie|undress\w*)\b"
            r"|\b(?:nude|naked|sex|sexual|sexy|erotic|porn|lingerie|undress\w*)\b.{0,60}"
            r"\b(?:child|children|kid|kids|minor|minors|underage|teen|teens|preteen|toddler|schoolgirl|schoolboy|loli)\b"
        ),
    ),
    Rule(
        "sexual",
        "Sexual or explicit content is not allowed.",
        _words(r"porn\w*", "nude", "nudes", "naked", "nsfw", "sex", "sexual", "erotic", "hentai", "topless", "genitals?", r"orgasm\w*", "striptease"),
    ),
    Rule(
        "self_harm",
        "Content that depicts or encourages self-harm or suicide is not allowed.",
        _words("suicide", "self[- ]harm", r"kill (?:myself|yourself|himself|herself|themselves)", "cutting (?:myself|herself|himself)", "hang (?:myself|yourself)"),
    ),
    Rule(
        "violence",
        "Graphic violence and gore are not allowed.",
        _words("gore", "gory", r"behead\w*", r"decapitat\w*", r"dismember\w*", r"disembowel\w*", r"mutilat\w*", "massacre", "mass shooting", r"torture\w*"),
    ),
    Rule(
        "hate",
        "Hateful content targeting people for who they are is not allowed.",
        _words("nazi propaganda", "ethnic cleansing", "genocide of", "white power", r"racial slur\w*", "heil hitler"),
    ),
)
