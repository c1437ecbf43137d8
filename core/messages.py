"""Structs that cross process boundaries (worker → Redis → api → clients)."""

from __future__ import annotations

from typing import Literal

import msgspec


class JobEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One change of a job, as the worker publishes it on the job's event stream."""

    type: Literal["progress", "status"]
    video_id: str
    status: str
    progress: int = 0
    step: int | None = None
    steps: int | None = None
    error: dict | None = None
