"""The catalogue's nearest-neighbour index: every public post's embedding in
one approximate index (FAISS), so the ``similar`` source reaches the whole
catalogue, not only the posts the pool holds, at a cost that barely grows
with it.

* **Kind.** Up to ``EXACT_BELOW`` posts, a flat index (an exact product, as
  cheap as the index at that size); above, an inverted file of
  ``nlist ~ 2·sqrt(n)`` lists with 4-bit scalar-quantised vectors (``CODES``:
  an eighth of float32, 192 bytes a post, so 1M posts take about 200 MB of
  file), ``NPROBE`` lists searched per query. Chosen by ``bench/feed_ann.py``:
  it builds in seconds where HNSW (FAISS, hnswlib, usearch) took minutes on
  100k posts, answers in well under a millisecond, and its lists can be
  memory-mapped. 4-bit codes found 0.874 of the exact 600 nearest at 100k
  against 0.893 with 8-bit ones, for half the file and half the resident
  memory of a reader; product quantisation (48 bytes a post) fell to 0.749.
  Only the candidates come from the codes: the ranking rescores them with
  their stored embeddings.
* **Files.** A version is two files in the index directory:
  ``catalogue-<v>.faiss`` and ``catalogue-<v>.ids.npy`` (the post ids, row
  for row, fixed-width bytes), then ``current.json`` names it; every file is
  written under a temporary name and renamed, so a reader sees the old
  version or the new one, never half of one. The last ``KEEP`` versions
  stay, so a process still reading an older one keeps its files.
* **Readers** (the api processes) open the current version memory-mapped
  (``faiss.IO_FLAG_MMAP``, ``numpy.load(mmap_mode="r")``): the processes of
  one machine share one copy in the page cache.

Pure apart from those files: no database, no event loop."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXACT_BELOW = 20_000  # a flat index up to here
CODES = "QT_4bit"  # the inverted lists' scalar quantiser (faiss.ScalarQuantizer.<CODES>)
NPROBE = 48  # lists searched per query (bench/feed_ann.py: recall@600 0.874 at 100k)
KEEP = 3  # versions kept on disk
TRAIN_PER_LIST = 40
CURRENT = "current.json"


def _faiss():
    import faiss

    return faiss


def index_dir(data_dir: Path, namespace: str) -> Path:
    """Where one namespace's index lives under the data directory."""
    return Path(data_dir) / "feed-index" / namespace


@dataclass
class Catalogue:
    """One version of the index, open: ``search`` answers post ids."""

    index: object  # a faiss.Index
    ids: np.ndarray  # row -> post id (bytes)
    version: int
    newest: str  # the newest post id it holds ("" when empty)
    built_at: float

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, vector: np.ndarray, k: int) -> list[str]:
        """The ids of (about) the ``k`` posts nearest ``vector`` (a unit vector), nearest first."""
        if len(self.ids) == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        _, rows = self.index.search(query, min(k, len(self.ids)))
        rows = rows[0]
        rows = rows[rows >= 0]
        return [raw.decode() for raw in self.ids[rows]]


def build(ids: list[str], vectors: np.ndarray, *, threads: int = 1, seed: int = 0) -> Catalogue:
    """An index over ``vectors`` (unit rows) named by ``ids``, in memory."""
    faiss = _faiss()
    faiss.omp_set_num_threads(threads)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape if len(vectors) else (0, vectors.shape[1] if vectors.ndim == 2 else 384)
    if n < EXACT_BELOW:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(min(4096, max(16, 2 * np.sqrt(n))))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, getattr(faiss.ScalarQuantizer, CODES), faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.cp.seed = seed
        sample = np.random.default_rng(seed).choice(n, min(n, TRAIN_PER_LIST * nlist), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = NPROBE
    if n:
        index.add(vectors)
    width = max((len(i) for i in ids), default=1)
    return Catalogue(index=index, ids=np.asarray([i.encode() for i in ids], dtype=f"S{width}"), version=0,
                     newest=max(ids, default=""), built_at=time.time())


def add(catalogue: Catalogue, ids: list[str], vectors: np.ndarray) -> Catalogue:
    """``catalogue`` with more posts (the same trained lists); in memory."""
    if not ids:
        return catalogue
    catalogue.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    width = max(catalogue.ids.dtype.itemsize if len(catalogue.ids) else 1, max(len(i) for i in ids))
    merged = np.concatenate([catalogue.ids.astype(f"S{width}"), np.asarray([i.encode() for i in ids], dtype=f"S{width}")])
    return Catalogue(index=catalogue.index, ids=merged, version=catalogue.version,
                     newest=max(catalogue.newest, max(ids)), built_at=time.time())


def save(catalogue: Catalogue, directory: Path) -> int:
    """Write ``catalogue`` as the next version and make it current; returns the version."""
    faiss = _faiss()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    current = read_current(directory)
    version = (current or {}).get("version", 0) + 1
    stem = f"catalogue-{version}"
    tmp_index, tmp_ids = directory / f".{stem}.faiss.tmp", directory / f".{stem}.ids.tmp.npy"
    faiss.write_index(catalogue.index, str(tmp_index))
    np.save(tmp_ids, catalogue.ids)
    os.replace(tmp_index, directory / f"{stem}.faiss")
    os.replace(tmp_ids, directory / f"{stem}.ids.npy")
    pointer = {"version": version, "count": int(len(catalogue.ids)), "newest": catalogue.newest, "built_at": catalogue.built_at}
    tmp_pointer = directory / f".{CURRENT}.tmp"
    tmp_pointer.write_text(json.dumps(pointer))
    os.replace(tmp_pointer, directory / CURRENT)
    catalogue.version = version
    for old in directory.glob("catalogue-*"):
        try:
            if int(old.name.split("-")[1].split(".")[0]) <= version - KEEP:
                old.unlink(missing_ok=True)
        except ValueError:
            continue
    return version


def read_current(directory: Path) -> dict | None:
    try:
        return json.loads((Path(directory) / CURRENT).read_text())
    except (OSError, ValueError):
        return None


def open_current(directory: Path) -> Catalogue | None:
    """The current version, memory-mapped; None when there is none yet."""
    faiss = _faiss()
    faiss.omp_set_num_threads(1)  # one query at a time, on the event loop: no OpenMP pool spinning on shared cores
    pointer = read_current(directory)
    if pointer is None:
        return None
    stem = Path(directory) / f"catalogue-{pointer['version']}"
    try:
        index = faiss.read_index(str(stem) + ".faiss", faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        ids = np.load(str(stem) + ".ids.npy", mmap_mode="r")
    except (OSError, RuntimeError):  # replaced under us: the next look finds the newer one
        return None
    if hasattr(index, "nprobe"):
        index.nprobe = NPROBE
    return Catalogue(index=index, ids=ids, version=int(pointer["version"]), newest=pointer.get("newest", ""),
                     built_at=float(pointer.get("built_at", 0.0)))
