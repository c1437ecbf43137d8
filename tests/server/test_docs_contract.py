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


def error_codes() -> dict[str, str]:
    """code -> a file that answers with it (every ``code="…"`` in the service's packages)."""
    found: dict[str, str] = {}
    for package in SERVICE:
        for path in sorted((ROOT / package).rglob("*.py")):
            for code in re.findall(r'\bcode="([a-z][a-z0-9_]*)"', path.read_text()):
                found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_codes_it_should():
    codes = error_codes()
    # a few codes from different packages: the scan reads them all
    assert {"moderation_blocked", "invalid_seconds", "cameo_not_found", "self_follow", "user_not_found"} <= set(codes)
    assert len(codes) > 60


def test_every_error_code_is_documented():
    text = docs_text()
    missing = {code: where for code, where in error_codes().items() if f"`{code}`" not in text}
    assert not missing, f"error codes answered but named nowhere in docs/: {missing}"


def test_every_websocket_message_type_is_documented():
    text = docs_text()
    missing = [kind for kind in HANDLERS if f"`{kind}`" not in text]
    assert not missing, f"WebSocket message types served but named nowhere in docs/: {missing}"
