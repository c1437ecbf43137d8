"""The error an api call raises."""

from __future__ import annotations

from typing import Any


class FabulaAPIError(Exception):
    """A 4xx/5xx answer (or a WebSocket ``error`` message), carrying the
    server's error body: ``status`` (the HTTP status; 400 for a socket
    error), ``code``, ``message`` and ``details``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details
