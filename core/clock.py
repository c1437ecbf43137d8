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


def as_utc(value: datetime | str) -> datetime:
    """A stored timestamp as an aware UTC datetime. MongoDB hands back aware
    datetimes (the client is tz_aware); nx-27017 may hand back a naive one or,
    after a ``$set``, an ISO string."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
