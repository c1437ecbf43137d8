"""Short, sortable, typed ids: ``<kind>_<ulid>`` in lower case.

A ULID starts with its millisecond timestamp, so ids of one kind sort by
creation time; cursors and "newest first" use that order."""

from __future__ import annotations

import threading

from ulid import ULID

KINDS = ("user", "video", "post", "tok", "req", "comment", "notif", "cameo", "chal", "report", "audit")

_lock = threading.Lock()
_last = 0


def _monotonic_ulid() -> ULID:
    """A ULID greater than the previous one made by this process, even within
    one millisecond (the random part is incremented then)."""
    global _last
    with _lock:
        value = int(ULID())
        if value >> 80 == _last >> 80 and value <= _last:
            value = _last + 1
        _last = value
        return ULID.from_int(value)


def new_id(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown id kind {kind!r}")
    return f"{kind}_{str(_monotonic_ulid()).lower()}"


def has_kind(value: str, kind: str) -> bool:
    """True when ``value`` looks like an id of ``kind`` (shape only, not existence)."""
    prefix = kind + "_"
    return isinstance(value, str) and value.startswith(prefix) and len(value) == len(prefix) + 26
