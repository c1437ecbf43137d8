"""Per-user generation quota: a pure decision on whether one more video may be queued.

The caller counts the user's unfinished jobs (``gen.jobs.count_unfinished``)
and acts on the decision (the api answers 429 with its reason).
"""

from __future__ import annotations

import msgspec

from core.settings import Settings
from policy.decision import Decision


class QuotaLimits(msgspec.Struct, frozen=True, kw_only=True):
    # queued + in-progress videos one user may have at once (None: no limit)
    max_pending: int | None = 100
    # queued videos alone (None: no limit)
    max_queued: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotaLimits:
        return cls(
            max_pending=settings.quota_max_pending or None,
            max_queued=settings.quota_max_queued or None,
        )


def decide_enqueue(active_jobs: int, queued_jobs: int, limits: QuotaLimits) -> Decision:
    """Allow one more video unless it would go past the user's limits."""
    pending = active_jobs + queued_jobs
    if limits.max_pending is not None and pending >= limits.max_pending:
        return Decision.refuse(
            "quota",
            f"You have {pending} videos queued or generating; the limit is {limits.max_pending}. "
            "Wait for some to finish, or cancel one.",
        )
    if limits.max_queued is not None and queued_jobs >= limits.max_queued:
        return Decision.refuse(
            "quota",
            f"You have {queued_jobs} videos waiting to start; the limit is {limits.max_queued}. "
            "Wait for some to start, or cancel one.",
        )
    return Decision.allow()
