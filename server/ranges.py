"""HTTP range requests for media: ``Range: bytes=a-b`` answered with 206,
streamed from the media store (``media_response``) or a local file."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from litestar import Response
from litestar.response import Stream

from core.errors import NotFound, RangeNotSatisfiable
from core.media_store import MediaStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


MAX_DIGITS = 18  # byte positions past 10**18 are no file's; longer numbers are refused before int() reads them


def _unsatisfiable(message: str, size: int) -> RangeNotSatisfiable:
    # the header is never echoed: it is the client's own, and may be arbitrarily long
    return RangeNotSatisfiable(message, details={"size": size}, headers={"Content-Range": f"bytes */{size}"})


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a single-range header asks for; None for the whole file.

    Multiple ranges and other units are answered with the whole file, as RFC 9110 allows.
    A range outside the file, or with a number of more than ``MAX_DIGITS``
    digits, is a 416 whose message names the problem."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if len(first) > MAX_DIGITS or len(last) > MAX_DIGITS:
        raise _unsatisfiable(f"the Range header's byte positions are limited to {MAX_DIGITS} digits", size)
    if first == "":  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable("empty suffix range", size)
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise _unsatisfiable(f"the requested range is outside the file's bytes 0-{size - 1}", size)
    return start, end


def _headers(size: int, span: tuple[int, int] | None, filename: str | None) -> tuple[int, int, int, dict[str, str]]:
    headers = {"Accept-Ranges": "bytes"}
    if filename:
        headers["Content-Disposition"] = f'inline; filename="{filename}"'
    if span is None:
        start, end, status = 0, size - 1, 200
    else:
        (start, end), status = span, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return start, end, status, headers


async def media_response(
    store: MediaStore,
    video_id: str,
    variant: str,
    range_header: str | None,
    *,
    filename: str | None = None,
    missing: NotFound | None = None,
) -> Response:
    """Stream ``variant`` of ``video_id`` from ``store``, honouring a single ``Range``.

    Raises ``missing`` (default: a 404 ``media_not_found``) when the store has no such variant."""
    size = await store.size(video_id, variant)
    if size is None:
        raise missing or NotFound(f"no {variant} stored for {video_id!r}", code="media_not_found")
    span = parse_range(range_header, size)
    start, end, status, headers = _headers(size, span, filename)

    async def body() -> AsyncIterator[bytes]:
        if end < start:  # an empty object
            return
        async for chunk in store.read(video_id, variant, start, end):
            yield chunk

    return Stream(body(), status_code=status, media_type=store.content_type(variant), headers=headers)
