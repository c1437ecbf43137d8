"""The web app's static files (``clients/web/``), held in memory.

The app is plain JavaScript modules and CSS: no build step. Every file is
read once, with its ETag (a hash of its bytes) and a gzip copy for text.
The bundle's ``version`` is a hash of all of them: assets are served under
``/app/<version>/<path>``, so the modules' relative imports stay within one
version and every asset can be cached for a year; the page that names the
version is revalidated with its ETag on every load. A file changed on disk
is picked up by the next page load (the folder's modification times are
checked at most once a second)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path

# text types bare: Litestar's Response adds "; charset=utf-8" to a text/* media type itself
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".webmanifest")
RECHECK_S = 1.0


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


def web_root() -> Path:
    """``clients/web``: beside the installed ``clients`` package, or in this checkout."""
    spec = importlib.util.find_spec("clients")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "web"
        if (candidate / "index.html").is_file():
            return candidate
    return Path(__file__).resolve().parent.parent / "clients" / "web"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _asset(path: Path, body: bytes) -> Asset:
    suffix = path.suffix.lower()
    kind = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    packed = gzip.compress(body, 6, mtime=0) if suffix in COMPRESSIBLE and len(body) > 512 else None
    return Asset(body=body, gzipped=packed, content_type=kind, etag=etag_of(body))


class Bundle:
    """The files under ``root`` by their path relative to it ("js/main.js")."""

    def __init__(self, root: Path):
        self.root = root
        self.assets: dict[str, Asset] = {}
        self.version = ""
        self._stamp: tuple = ()
        self._checked = 0.0
        self.reload()

    def _scan(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))

    def _stamp_of(self, files: list[Path]) -> tuple:
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)

    def reload(self) -> None:
        files = self._scan() if self.root.is_dir() else []
        assets = {p.relative_to(self.root).as_posix(): _asset(p, p.read_bytes()) for p in files}
        digest = hashlib.sha256()
        for name in sorted(assets):
            digest.update(name.encode() + b"\0" + assets[name].etag.encode())
        self.assets, self.version = assets, digest.hexdigest()[:12]
        self._stamp, self._checked = self._stamp_of(files), time.monotonic()

    def fresh(self) -> Bundle:
        """Reload when a file changed on disk (checked at most once a second)."""
        now = time.monotonic()
        if now - self._checked >= RECHECK_S:
            self._checked = now
            files = self._scan() if self.root.is_dir() else []
            if self._stamp_of(files) != self._stamp:
                self.reload()
        return self

    def get(self, name: str) -> Asset | None:
        return self.assets.get(name)


_bundle: Bundle | None = None


def bundle() -> Bundle:
    """The process's bundle of ``clients/web``, current with the files on disk."""
    global _bundle
    if _bundle is None:
        _bundle = Bundle(web_root())
    return _bundle.fresh()
