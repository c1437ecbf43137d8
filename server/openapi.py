"""OpenAPI helpers: every status a route can return is declared on it."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from core.errors import ErrorBody

_DESCRIPTIONS = {
    400: "Malformed or invalid request",
    401: "Missing, invalid or revoked token",
    403: "Not allowed",
    404: "No such resource",
    409: "Conflicts with existing state",
    413: "Request body too large",
    415: "Unsupported content type",
    416: "Range not satisfiable",
    422: "Refused by policy",
    429: "Rate limited",
    503: "A backing service is unavailable",
}

# Statuses any route can produce: bad input, an oversized body, a server fault.
COMMON = (400, 413)


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the error statuses a route can return (plus the common ones)."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_DESCRIPTIONS.get(status, "Error"), generate_examples=False)
        for status in sorted({*COMMON, *statuses})
    }
