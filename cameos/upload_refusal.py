"""The error an upload refused by moderation gets: 422 ``moderation_blocked``,
with the category in ``details`` and the form field it is about (on the
Videos API, OpenAI's ``param`` is read from ``field``)."""

from __future__ import annotations

from core.errors import PolicyViolation
from policy.decision import Decision


def moderation_blocked(decision: Decision, field: str) -> PolicyViolation:
    return PolicyViolation(
        decision.reason or "this upload is not allowed",
        code="moderation_blocked",
        details={"category": decision.category, "field": field},
    )
