"""Prompt moderation: a pure decision on the text of a generation request."""

from __future__ import annotations

import re
import unicodedata

from policy.decision import Decision
from policy.prompt_rules import RULES

MAX_PROMPT_CHARS = 2000
_SPACES = re.compile(r"\s+")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})


def normalise(text: str) -> str:
    """Lower case, accents folded, common digit-for-letter swaps undone, spaces collapsed."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SPACES.sub(" ", folded.lower().translate(_LEET)).strip()


def moderate_prompt(prompt: str) -> Decision:
    text = normalise(prompt)
    if not text:
        return Decision.refuse("empty", "The prompt is empty.")
    if len(prompt) > MAX_PROMPT_CHARS:
        return Decision.refuse("too_long", f"The prompt is longer than {MAX_PROMPT_CHARS} characters.")
    for rule in RULES:
        if rule.pattern.search(text):
            return Decision.refuse(rule.category, rule.reason)
    return Decision.allow()
