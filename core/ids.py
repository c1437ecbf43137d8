"""Short, sortable, typed ids: ``<kind>_<ulid>`` in lower case.

A ULID starts with its millisecond timestamp, so ids of one kind sort by
creation time; cursors and "newest first" use that order."""

from __future__ import annotations

from ulid import ULID

KINDS = ("user", "video", "post", "tok", "req")


def new_id(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown id kind {kind!r}")
    return f"{kind}_{str(ULID()).lower()}"


def has_kind(value: str, kind: str) -> bool:
    """True when ``value`` looks like an id of ``kind`` (shape only, not existence)."""
    prefix = kind + "_"
    return isinstance(value, str) and value.startswith(prefix) and len(value) == len(prefix) + 26
