"""The clock: UTC datetimes inside, unix seconds on the OpenAI-compatible surface."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def unix(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # Mongo hands back naive UTC unless told otherwise
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())
