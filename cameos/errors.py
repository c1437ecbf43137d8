"""The errors cameo operations raise: one constructor per code, so every
caller (routes, the create-video path, the worker's re-check) answers alike.

| code | status | when |
| --- | --- | --- |
| ``cameo_not_found`` | 404 | no such cameo, or one hidden from the caller |
| ``not_cameo_owner`` | 403 | a change only the owner may make |
| ``cameo_exists`` | 409 | a second cameo of one's own face, or a character name taken |
| ``too_many_cameos`` | 409 | the per-account limit of characters is reached |
| ``challenge_expired`` | 410 | the challenge is unknown or older than 3 minutes |
| ``challenge_used`` | 410 | the challenge was used already (each is used once) |
| ``liveness_failed`` | 422 | the recording did not pass (``details``: what was checked and seen) |
| ``liveness_required`` | 422 | a character video shows a human face and came without a challenge |
| ``invalid_recording`` | 422 | the file is not a video we can read |
| ``recording_too_long`` | 413 | longer than 30 s |
| ``likeness_taken`` | 409 | the face is another account's verified cameo |
| ``unknown_cameo`` | 422 | a prompt mentions a handle or character with no cameo |
| ``too_many_mentions`` | 422 | a prompt mentions more cameos than allowed |
| ``cameo_permission_denied`` | 403 | a mentioned cameo may not be used by the caller |
| ``cameo_restricted`` | 422 | the prompt breaches a restriction of a mentioned cameo |

``cameo_permission_denied`` keeps the hosted Sora API's code and message.
"""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, FabulaError, Forbidden, NotFound, PayloadTooLarge, PolicyViolation

PERMISSION_DENIED_MESSAGE = "You are not allowed to access one or more mentioned cameos."


class Gone(FabulaError):
    status, code = 410, "gone"


def cameo_not_found(cameo_id: str) -> NotFound:
    return NotFound(f"no cameo {cameo_id!r}", code="cameo_not_found")


def not_owner(cameo_id: str) -> Forbidden:
    return Forbidden(f"only the owner of cameo {cameo_id!r} may do this", code="not_cameo_owner")


def cameo_exists(message: str, details: Any = None) -> Conflict:
    return Conflict(message, code="cameo_exists", details=details)


def too_many_cameos(limit: int) -> Conflict:
    return Conflict(f"an account may have at most {limit} characters", code="too_many_cameos", details={"limit": limit})


def challenge_expired() -> Gone:
    return Gone("the challenge has expired or does not exist; ask for a new one", code="challenge_expired")


def challenge_used() -> Gone:
    return Gone("the challenge was used already; ask for a new one", code="challenge_used")


def liveness_failed(details: dict) -> PolicyViolation:
    failed = ", ".join(details.get("failures") or []) or "unknown"
    return PolicyViolation(f"the recording did not pass the liveness check ({failed})", code="liveness_failed", details=details)


def liveness_required() -> PolicyViolation:
    return PolicyViolation(
        "this video shows a human face: record it with a liveness challenge (POST /v1/cameos/challenges) "
        "and send its challenge_id, or use a video without a face",
        code="liveness_required",
    )


def invalid_recording(reason: str) -> PolicyViolation:
    return PolicyViolation(f"the recording could not be read: {reason}", code="invalid_recording")


def recording_too_long(limit_seconds: float, message: str | None = None) -> PayloadTooLarge:
    return PayloadTooLarge(
        message or f"the recording is longer than {limit_seconds:g} s",
        code="recording_too_long",
        details={"limit_seconds": limit_seconds},
    )


def likeness_taken() -> Conflict:
    return Conflict(
        "this face is already another account's verified cameo; the attempt was logged for review",
        code="likeness_taken",
    )


def unknown_cameo(mention: str) -> PolicyViolation:
    return PolicyViolation(f"there is no cameo {mention}", code="unknown_cameo", details={"mention": mention})


def too_many_mentions(limit: int) -> PolicyViolation:
    return PolicyViolation(f"a prompt may mention at most {limit} cameos", code="too_many_mentions", details={"limit": limit})


def permission_denied(mention: str, cameo_id: str, reason: str) -> Forbidden:
    return Forbidden(
        PERMISSION_DENIED_MESSAGE,
        code="cameo_permission_denied",
        details={"cameo": mention, "cameo_id": cameo_id, "reason": reason},
    )


def cameo_restricted(mention: str, cameo_id: str, restriction: str, reason: str) -> PolicyViolation:
    return PolicyViolation(
        reason, code="cameo_restricted", details={"cameo": mention, "cameo_id": cameo_id, "restriction": restriction}
    )
