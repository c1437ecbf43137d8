"""The docs are the contract bots are written against: every error code the
service answers with, and every WebSocket message type a client may send,
is named in docs/ (a bot written from the docs alone must know them)."""

from __future__ import annotations

import re
from pathlib import Path

from server.routes.ws import HANDLERS

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ("accounts", "cameos", "cli", "core", "feed", "gen", "policy", "server")


def docs_text() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))) + (ROOT / "README.md").read_text()


# where a code is written: ``code="x"`` (a call), ``status, code = 416, "x"`` and
# ``code: str = "x"`` (an error class's or a helper's default), ``_bad(message, "x")``
# (server.media's helper) and ``416: "x"`` (server.errors' codes by status)
CODE_PATTERNS = (
    r'\bcode="([a-z][a-z0-9_]*)"',
    r'\bcode\s*(?::\s*str\s*)?=\s*(?:\d{3}\s*,\s*)?"([a-z][a-z0-9_]*)"',
    r'\b_bad\([^()]*,\s*"([a-z][a-z0-9_]*)"\)',
    r'^\s+[45]\d\d: "([a-z][a-z0-9_]*)",$',
)


def error_codes() -> dict[str, str]:
    """code -> a file that answers with it (every code written in the service's packages)."""
    found: dict[str, str] = {}
    for package in SERVICE:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            for pattern in CODE_PATTERNS:
                for code in re.findall(pattern, text, flags=re.MULTILINE):
                    found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_codes_it_should():
    codes = error_codes()
    # a few codes from different packages: the scan reads them all
    assert {"moderation_blocked", "invalid_seconds", "cameo_not_found", "self_follow", "user_not_found"} <= set(codes)
    # the other ways a code is written: a class default, server.media's helper, the codes by status
    assert {"range_not_satisfiable", "unsupported", "method_not_allowed", "gone"} <= set(codes)
    assert len(codes) > 60


def test_every_error_code_is_documented():
    text = docs_text()
    missing = {code: where for code, where in error_codes().items() if f"`{code}`" not in text}
    assert not missing, f"error codes answered but named nowhere in docs/: {missing}"


def test_every_websocket_message_type_is_documented():
    text = docs_text()
    missing = [kind for kind in HANDLERS if f"`{kind}`" not in text]
    assert not missing, f"WebSocket message types served but named nowhere in docs/: {missing}"
