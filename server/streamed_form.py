"""A multipart/form-data body read as it arrives, its file parts written
straight to temporary files: a large upload (a cameo recording, up to
50 MB) is never held in memory, and a body over the limit is refused (413)
as soon as it goes past it, by its Content-Length or while it streams.

Use it as a context manager; the temporary files are removed on the way out::

    async with streamed_form(request, files=("video",), max_file_bytes=limit) as form:
        form.fields["name"], form.files["video"].path

The route opts out of the app-wide body limit (``request_max_body_size=None``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from litestar import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from core.errors import BadRequest, FabulaError, PayloadTooLarge
from server.body import field_error

MAX_FIELD_BYTES = 64 * 1024  # all the ordinary fields together
MAX_PARTS = 16


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str
    path: Path
    size: int = 0


@dataclass
class StreamedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than {limit} bytes", code="payload_too_large", details={"limit": limit})


def _malformed(why: str) -> BadRequest:
    return BadRequest(f"malformed form body: {why}", code="malformed_form")


class _Reader:
    """Callbacks for python-multipart's parser: one part at a time."""

    def __init__(self, form: StreamedForm, files: tuple[str, ...], max_file_bytes: int, tmp_dir: str | None) -> None:
        self.form, self.files, self.max_file_bytes, self.tmp_dir = form, files, max_file_bytes, tmp_dir
        self.parts = 0
        self.field_bytes = 0
        self.ended = False
        self._headers: dict[str, str] = {}
        self._name = b""
        self._value = b""
        self._field: str | None = None
        self._chunks: list[bytes] = []
        self._file: UploadedFile | None = None
        self._handle = None

    # header callbacks
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise _malformed(f"more than {MAX_PARTS} parts")
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._name.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        kind, options = parse_options_header(self._headers.get("content-disposition", ""))
        if kind != b"form-data" or b"name" not in options:
            raise _malformed("a part without a form-data name")
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if name not in self.files:
                raise field_error(name, "is not a file field")
            if name in self.form.files:
                raise field_error(name, "file given more than once")
            fd, path = tempfile.mkstemp(prefix="fabula-upload-", dir=self.tmp_dir)
            self._handle = os.fdopen(fd, "wb")
            self._file = UploadedFile(
                field=name,
                filename=options[b"filename"].decode("utf-8", "replace"),
                content_type=self._headers.get("content-type", "application/octet-stream"),
                path=Path(path),
            )
            self.form.files[name] = self._file
            self._field = None
        else:
            if name in self.form.fields:
                raise field_error(name, "given more than once")
            self._field, self._chunks, self._file = name, [], None

    # body callbacks
    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._file is not None:
            self._file.size += size
            if self._file.size > self.max_file_bytes:
                raise _too_large(self.max_file_bytes)
            self._handle.write(data[start:end])
        else:
            self.field_bytes += size
            if self.field_bytes > MAX_FIELD_BYTES:
                raise _too_large(MAX_FIELD_BYTES)
            self._chunks.append(data[start:end])

    def on_part_end(self) -> None:
        if self._file is not None:
            self._handle.close()
            self._handle, self._file = None, None
        elif self._field is not None:
            try:
                self.form.fields[self._field] = b"".join(self._chunks).decode("utf-8")
            except UnicodeDecodeError:
                raise field_error(self._field, "is not UTF-8") from None
            self._field = None

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def callbacks(self) -> dict:
        return {name: getattr(self, name) for name in (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
            "on_part_data", "on_part_end", "on_end",
        )}


@contextlib.asynccontextmanager
async def streamed_form(
    request: Request, *, files: tuple[str, ...], max_file_bytes: int, tmp_dir: str | None = None
) -> AsyncIterator[StreamedForm]:
    """Read a multipart/form-data body: 415 for another content type, 413 past
    ``max_file_bytes`` in a file part (or 64 KiB of other fields), 400 for a
    malformed body or unexpected file fields."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        raise FabulaError(
            f"unsupported content type {kind.decode('latin-1')!r}; send multipart/form-data",
            code="unsupported_media_type",
            status=415,
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise _malformed("no boundary in the content type")
    limit = max_file_bytes + MAX_FIELD_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(max_file_bytes)
    form = StreamedForm()
    reader = _Reader(form, files, max_file_bytes, tmp_dir)
    try:
        try:
            parser = MultipartParser(boundary, reader.callbacks())
            async for chunk in request.stream():
                if chunk:
                    parser.write(chunk)
            parser.finalize()
        except FabulaError:
            raise
        except Exception as exc:  # python-multipart's parse errors, a bad boundary
            raise _malformed(str(exc) or type(exc).__name__) from None
        finally:
            reader.close()
        if not reader.ended:
            raise _malformed("the body ended before its closing boundary")
        yield form
    finally:
        for upload in form.files.values():
            upload.path.unlink(missing_ok=True)
