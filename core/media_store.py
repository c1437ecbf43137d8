"""Where media live (finished videos, job references, cameo likenesses): a local directory by default, an S3-compatible
bucket when ``FABULA_MEDIA_URL`` names one.

Owns the layout (``<video_id>/<variant><ext>`` under a root folder or a
bucket prefix), the variants a video has and their content types, and id
safety (an id never escapes the root). Both stores speak one async
interface, :class:`MediaStore`:

* ``put_file(video_id, variant, src_path)`` / ``put_bytes(...)`` store a
  variant whole, atomically for readers: a reader sees the old bytes or the
  new ones, never half a file, so a retried job simply overwrites;
* ``size(video_id, variant)`` is the stored size in bytes, or None;
* ``read(video_id, variant, start, end)`` streams the inclusive byte span
  (what an HTTP range request needs);
* ``delete(video_id)`` removes every variant of a video (idempotent);
* ``content_type(variant)``.

``open_media_store(settings)`` picks the implementation. The local store
also keeps the synchronous ``path``/``exists`` its first callers use (the
worker encodes straight into ``path(...)``).
"""

from __future__ import annotations

import abc
import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from core.settings import Settings

# variant -> (file suffix, content type)
VARIANTS: dict[str, tuple[str, str]] = {
    "video": (".mp4", "video/mp4"),
    "thumbnail": (".jpg", "image/jpeg"),
    "spritesheet": (".jpg", "image/jpeg"),
    # the image a job is conditioned on (an upload, or the last frame of the
    # video an extension continues), normalised to PNG
    "reference": (".png", "image/png"),
    # a cameo's likeness, kept under its cameo id (cameos.store): its best
    # frontal frames and a sample of its voice
    **{f"frame{i}": (".jpg", "image/jpeg") for i in range(1, 6)},
    "voice": (".wav", "audio/wav"),
}

CHUNK = 256 * 1024

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def check_video_id(video_id: str) -> str:
    """Return ``video_id`` if it is a safe storage key, else raise ValueError."""
    if not isinstance(video_id, str) or not _SAFE_ID.fullmatch(video_id):
        raise ValueError(
            f"unsafe video id {video_id!r}: use 1-128 letters, digits, '_' or '-', starting with a letter or digit"
        )
    return video_id


def _variant(variant: str) -> tuple[str, str]:
    try:
        return VARIANTS[variant]
    except (KeyError, TypeError):
        raise ValueError(f"unknown media variant {variant!r}; known: {', '.join(VARIANTS)}") from None


def _span(size: int, start: int, end: int | None) -> tuple[int, int]:
    """The inclusive span [start, end] clipped to a stored object of ``size`` bytes."""
    last = size - 1 if end is None else min(end, size - 1)
    if start < 0 or (size and start > last):
        raise ValueError(f"byte span {start}-{end} is outside 0-{size - 1}")
    return start, last


class MediaStore(abc.ABC):
    """The media of videos, by video id and variant."""

    @abc.abstractmethod
    async def put_file(self, video_id: str, variant: str, src_path: Path) -> int:
        """Store the file at ``src_path`` (left in place) as ``variant``; returns its size."""

    @abc.abstractmethod
    async def put_bytes(self, video_id: str, variant: str, data: bytes) -> int:
        """Store ``data`` as ``variant``; returns its size."""

    @abc.abstractmethod
    async def size(self, video_id: str, variant: str) -> int | None:
        """Stored size in bytes, or None when that variant is not stored."""

    @abc.abstractmethod
    def read(self, video_id: str, variant: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start``..``end`` (inclusive; None: to the end) in chunks.
        FileNotFoundError (on first iteration) when the variant is not stored."""

    @abc.abstractmethod
    async def delete(self, video_id: str) -> None:
        """Remove every variant of ``video_id``; a no-op when nothing is stored."""

    def content_type(self, variant: str) -> str:
        return _variant(variant)[1]

    def suffix(self, variant: str) -> str:
        return _variant(variant)[0]

    async def get_bytes(self, video_id: str, variant: str) -> bytes | None:
        """A whole (small) variant in memory, or None when it is not stored."""
        try:
            return b"".join([chunk async for chunk in self.read(video_id, variant)])
        except FileNotFoundError:
            return None

    async def fetch_file(self, video_id: str, variant: str, dest: Path) -> bool:
        """Copy a variant to the local file ``dest``; False when it is not stored."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(dest, "wb") as out:
                async for chunk in self.read(video_id, variant):
                    await asyncio.to_thread(out.write, chunk)
        except FileNotFoundError:
            dest.unlink(missing_ok=True)
            return False
        return True


class LocalMediaStore(MediaStore):
    """Media files under one root directory, one folder per video."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalMediaStore({str(self.root)!r})"

    def _dir(self, video_id: str) -> Path:
        return self.root / check_video_id(video_id)

    def path(self, video_id: str, variant: str) -> Path:
        """Where ``variant`` of ``video_id`` is (or will be) stored. Creates nothing."""
        suffix, _ = _variant(variant)
        return self._dir(video_id) / f"{variant}{suffix}"

    def exists(self, video_id: str, variant: str) -> bool:
        return self.path(video_id, variant).is_file()

    def _size(self, video_id: str, variant: str) -> int | None:
        try:
            return self.path(video_id, variant).stat().st_size
        except FileNotFoundError:
            return None

    async def size(self, video_id: str, variant: str) -> int | None:
        return self._size(video_id, variant)

    def _write(self, video_id: str, variant: str, fill) -> int:
        target = self.path(video_id, variant)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            fill(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target.stat().st_size

    async def put_file(self, video_id: str, variant: str, src_path: Path) -> int:
        src = Path(src_path)
        if src.resolve() == self.path(video_id, variant).resolve():
            return src.stat().st_size  # already in place (written through ``path``)
        return await asyncio.to_thread(self._write, video_id, variant, lambda tmp: shutil.copyfile(src, tmp))

    async def put_bytes(self, video_id: str, variant: str, data: bytes) -> int:
        return await asyncio.to_thread(self._write, video_id, variant, lambda tmp: tmp.write_bytes(data))

    async def read(self, video_id: str, variant: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.path(video_id, variant)
        handle = await asyncio.to_thread(open, path, "rb")  # FileNotFoundError when absent
        try:
            size = os.fstat(handle.fileno()).st_size
            first, last = _span(size, start, end)
            await asyncio.to_thread(handle.seek, first)
            remaining = last - first + 1
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    def _delete(self, video_id: str) -> None:
        folder = self._dir(video_id)
        if not folder.exists():
            return
        # Rename first so a concurrent reader sees all variants or none.
        doomed = self.root / f".deleted-{video_id}-{uuid.uuid4().hex[:8]}"
        try:
            folder.rename(doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    async def delete(self, video_id: str) -> None:
        check_video_id(video_id)
        await asyncio.to_thread(self._delete, video_id)

    async def fetch_file(self, video_id: str, variant: str, dest: Path) -> bool:
        if not self.exists(video_id, variant):
            return False
        await asyncio.to_thread(shutil.copyfile, self.path(video_id, variant), dest)
        return True


class S3MediaStore(MediaStore):
    """Media objects in an S3-compatible bucket: ``<prefix>/<video_id>/<variant><ext>``.

    boto3's calls are blocking; each runs in a thread. Credentials come from
    boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
    ``AWS_PROFILE``, instance roles …); ``endpoint_url`` points it at MinIO,
    Ceph, R2 or any other S3-compatible server.
    """

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None) -> None:
        if not bucket:
            raise ValueError("an S3 media store needs a bucket name (s3://bucket/prefix)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self._client = None

    def __repr__(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"S3MediaStore({where!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32),
            )
        return self._client

    def _folder(self, video_id: str) -> str:
        check_video_id(video_id)
        return f"{self.prefix}/{video_id}/" if self.prefix else f"{video_id}/"

    def key(self, video_id: str, variant: str) -> str:
        suffix, _ = _variant(variant)
        return f"{self._folder(video_id)}{variant}{suffix}"

    @staticmethod
    def _missing(exc: Exception) -> bool:
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in ("404", "NoSuchKey", "NotFound") or status == 404

    async def put_file(self, video_id: str, variant: str, src_path: Path) -> int:
        key, content_type = self.key(video_id, variant), self.content_type(variant)
        src = Path(src_path)
        await asyncio.to_thread(self.client.upload_file, str(src), self.bucket, key, ExtraArgs={"ContentType": content_type})
        return src.stat().st_size

    async def put_bytes(self, video_id: str, variant: str, data: bytes) -> int:
        key, content_type = self.key(video_id, variant), self.content_type(variant)
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return len(data)

    async def size(self, video_id: str, variant: str) -> int | None:
        key = self.key(video_id, variant)
        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except Exception as exc:
            if self._missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    async def read(self, video_id: str, variant: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        key = self.key(video_id, variant)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"byte span {start}-{end} is not valid")
        args = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:  # a whole object is read without a Range (an empty one has no byte 0)
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            obj = await asyncio.to_thread(lambda: self.client.get_object(**args))
        except Exception as exc:
            if self._missing(exc):
                raise FileNotFoundError(f"{key} is not stored") from None
            code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
            if code == "InvalidRange":
                raise ValueError(f"byte span {start}-{end} is outside the object") from None
            raise
        body = obj["Body"]
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    def _delete_all(self, folder: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    async def delete(self, video_id: str) -> None:
        await asyncio.to_thread(self._delete_all, self._folder(video_id))


def open_media_store(settings: Settings) -> MediaStore:
    """The store ``settings`` name: ``FABULA_MEDIA_URL`` = ``s3://bucket/prefix``
    (with ``FABULA_S3_ENDPOINT_URL`` / ``FABULA_S3_REGION``), ``file:///path``,
    or empty for the local folder ``media_root``."""
    url = settings.media_url.strip()
    if not url:
        return LocalMediaStore(settings.media_root)
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3MediaStore(parsed.netloc, parsed.path, endpoint_url=settings.s3_endpoint_url or None, region=settings.s3_region or None)
    if parsed.scheme == "file":
        return LocalMediaStore(Path(parsed.path))
    raise ValueError(f"FABULA_MEDIA_URL must be s3://bucket/prefix or file:///path, got {url!r}")
