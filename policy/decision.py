"""The value every policy function returns."""

from __future__ import annotations

import msgspec


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    category: str | None = None  # what rule refused it, e.g. "sexual", "minors"
    reason: str | None = None  # a sentence for the person who asked

    @classmethod
    def allow(cls) -> "Decision":
        return cls(allowed=True)

    @classmethod
    def refuse(cls, category: str, reason: str) -> "Decision":
        return cls(allowed=False, category=category, reason=reason)
