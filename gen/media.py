"""Where finished media live: a local directory keyed by video id.

Owns the layout ``<root>/<video_id>/<variant><ext>``, the variants a video
has and their content types, and id safety (an id never escapes the root).
Writers (``gen.encode``) write to ``path(...)`` atomically; readers (the API)
ask ``exists``/``size``/``path``. An S3-compatible store can stand behind the
same methods later.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

# variant -> (file suffix, content type)
VARIANTS: dict[str, tuple[str, str]] = {
    "video": (".mp4", "video/mp4"),
    "thumbnail": (".jpg", "image/jpeg"),
    "spritesheet": (".jpg", "image/jpeg"),
}

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


class LocalMediaStore:
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

    def size(self, video_id: str, variant: str) -> int:
        """Size in bytes; FileNotFoundError if that variant is not stored."""
        return self.path(video_id, variant).stat().st_size

    def content_type(self, variant: str) -> str:
        return _variant(variant)[1]

    def delete(self, video_id: str) -> None:
        """Remove every variant of ``video_id``; a no-op when nothing is stored."""
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
