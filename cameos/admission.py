"""The worker's re-check when it picks a queued job up.

Consent can change while a job waits: a grant is revoked, a cameo paused or
deleted. ``refusal`` checks the job's cameos again for its owner and prompt,
so a revocation reaches queued jobs too; the worker fails such a job with
the refusal's code. The worker gets this function from its command
(``cli.worker``), since generation does not depend on cameos.
"""

from __future__ import annotations

from cameos.resolve import check_video_cameos
from core.errors import FabulaError
from core.stores import Stores


async def refusal(stores: Stores, owner_id: str, video_id: str, prompt: str) -> tuple[str, str] | None:
    """``(code, message)`` when the job may no longer use one of its cameos, else None."""
    try:
        await check_video_cameos(stores, owner_id, video_id, prompt)
    except FabulaError as refused:
        return refused.code, refused.message
    return None
