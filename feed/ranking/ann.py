"""The catalogue's nearest-neighbour index: every public post's embedding in
one approximate index (FAISS), so the ``similar`` source reaches the whole
catalogue, not only the posts the pool holds, at a cost that barely grows
with it.

* **Kind.** Up to ``EXACT_BELOW`` posts, a flat index (an exact product, as
  cheap as the index at that size); above, an inverted file of
  ``nlist ~ 2·sqrt(n)`` lists with 8-bit scalar-quantised vectors (a
  quarter of float32: 1M posts take about 400 MB of file), ``NPROBE`` lists
  searched per query. Chosen by ``bench/feed_ann.py``: it builds in seconds
  where HNSW (FAISS, hnswlib, usearch) took minutes on 100k posts, answers
  in well under a millisecond, and its lists can be memory-mapped.
* **Columns.** Beside each vector, what a reader needs to rank the post
  without reading it: named columns, row for row (the feed builder writes
  the author, the creation time and the engagement counters as they were
  read). ``nearest`` answers rows with their vectors decoded from the
  index, so a reader needs no copy of the embeddings either.
* **Files.** A version is the index, ``catalogue-<v>.faiss``, the post ids,
  ``catalogue-<v>.ids.npy`` (row for row, fixed-width bytes), and a
  ``catalogue-<v>.col-<name>.npy`` per column; then ``current.json`` names
  it and its columns; every file is
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EXACT_BELOW = 20_000  # a flat index up to here
NPROBE = 48  # lists searched per query (bench/feed_ann.py: recall@600 0.83 at 100k)
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
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # name -> one value per row

    def __len__(self) -> int:
        return len(self.ids)

    def nearest(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows of (about) the ``k`` posts nearest ``vector`` (a unit vector),
        nearest first, and their vectors as the index holds them (exact up to
        ``EXACT_BELOW``, 8-bit quantised above it)."""
        if len(self.ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.index.d), dtype=np.float32)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        _, rows, vectors = self.index.search_and_reconstruct(query, min(k, len(self.ids)))
        found = rows[0] >= 0
        return rows[0][found].astype(np.int64), vectors[0][found]

    def search(self, vector: np.ndarray, k: int) -> list[str]:
        """The ids of (about) the ``k`` posts nearest ``vector`` (a unit vector), nearest first."""
        if len(self.ids) == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        _, rows = self.index.search(query, min(k, len(self.ids)))
        rows = rows[0]
        rows = rows[rows >= 0]
        return [raw.decode() for raw in self.ids[rows]]


def _fixed_width(ids: list[str], width: int = 1) -> np.ndarray:
    width = max(width, max((len(i.encode()) for i in ids), default=1))
    return np.asarray([i.encode() for i in ids], dtype=f"S{width}")


def _joined(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    if old.dtype.kind == "S":
        width = max(old.dtype.itemsize, new.dtype.itemsize)
        return np.concatenate([old.astype(f"S{width}"), new.astype(f"S{width}")])
    return np.concatenate([old, new.astype(old.dtype)])


def build(ids: list[str], vectors: np.ndarray, *, threads: int = 1, seed: int = 0,
          columns: dict[str, np.ndarray] | None = None) -> Catalogue:
    """An index over ``vectors`` (unit rows) named by ``ids``, in memory, with
    ``columns`` (each one value per row) beside them."""
    faiss = _faiss()
    faiss.omp_set_num_threads(threads)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape if len(vectors) else (0, vectors.shape[1] if vectors.ndim == 2 else 384)
    if n < EXACT_BELOW:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(min(4096, max(16, 2 * np.sqrt(n))))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.cp.seed = seed
        sample = np.random.default_rng(seed).choice(n, min(n, TRAIN_PER_LIST * nlist), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = NPROBE
    if n:
        index.add(vectors)
    columns = {name: np.asarray(values) for name, values in (columns or {}).items()}
    if any(len(values) != n for values in columns.values()):
        raise ValueError("every column needs one value per vector")
    return Catalogue(index=index, ids=_fixed_width(ids), version=0, newest=max(ids, default=""),
                     built_at=time.time(), columns=columns)


def add(catalogue: Catalogue, ids: list[str], vectors: np.ndarray, columns: dict[str, np.ndarray] | None = None) -> Catalogue:
    """``catalogue`` with more posts (the same trained lists) and their
    ``columns`` (the same names as the catalogue's); in memory."""
    if not ids:
        return catalogue
    columns = columns or {}
    if set(columns) != set(catalogue.columns) or any(len(values) != len(ids) for values in columns.values()):
        raise ValueError("the new posts need the catalogue's columns, one value per post")
    catalogue.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    merged = _joined(catalogue.ids, _fixed_width(ids))
    joined = {name: _joined(values, np.asarray(columns[name])) for name, values in catalogue.columns.items()}
    return Catalogue(index=catalogue.index, ids=merged, version=catalogue.version,
                     newest=max(catalogue.newest, max(ids)), built_at=time.time(), columns=joined)


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
    for name, values in catalogue.columns.items():
        tmp = directory / f".{stem}.col-{name}.tmp.npy"
        np.save(tmp, np.asarray(values))
        os.replace(tmp, directory / f"{stem}.col-{name}.npy")
    os.replace(tmp_index, directory / f"{stem}.faiss")
    os.replace(tmp_ids, directory / f"{stem}.ids.npy")
    pointer = {"version": version, "count": int(len(catalogue.ids)), "newest": catalogue.newest, "built_at": catalogue.built_at,
               "columns": sorted(catalogue.columns)}
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
        columns = {name: np.load(f"{stem}.col-{name}.npy", mmap_mode="r") for name in pointer.get("columns", [])}
    except (OSError, RuntimeError):  # replaced under us: the next look finds the newer one
        return None
    if hasattr(index, "nprobe"):
        index.nprobe = NPROBE
    return Catalogue(index=index, ids=ids, version=int(pointer["version"]), newest=pointer.get("newest", ""),
                     built_at=float(pointer.get("built_at", 0.0)), columns=columns)
