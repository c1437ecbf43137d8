"""Which approximate nearest-neighbour library retrieves the feed's
``similar`` candidates: the measurement behind ``feed.ranking.ann``.

Synthetic, clustered post embeddings (``--topics`` unit centres in 384
dimensions, each post a centre plus noise, normalised, as MiniLM captions on
a few hundred topics are), queried with session-like interest vectors (a mix
of one to three topics plus noise). For each library that imports here
(usearch, faiss-cpu, hnswlib) and the exact product that the pool runs
today: build time, index memory (the process's RSS growth, and the saved
file), one-query latency p50/p99 on one thread, and recall@k against the
exact top k. Usage (from the repository root):

    .venv/bin/python bench/feed_ann.py [--posts 100000] [--k 600] [--queries 500]

faiss-cpu and hnswlib are not dependencies of Fabula: install them beside it
(``pip install --target DIR faiss-cpu hnswlib`` and ``PYTHONPATH=DIR``) to
compare; a library that does not import is skipped."""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

DIM = 384


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def clustered(n: int, topics: int, rng: np.random.Generator, noise: float = 0.06) -> np.ndarray:
    centres = rng.standard_normal((topics, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = centres[rng.integers(0, topics, min(100_000, n - start))]
        part = part + rng.standard_normal(part.shape).astype(np.float32) * noise
        out[start : start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def queries(n: int, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = base[rng.integers(0, len(base), (n, 3))]
    weights = rng.dirichlet([1.0, 0.5, 0.25], n).astype(np.float32)
    q = np.einsum("nk,nkd->nd", weights, picks) + rng.standard_normal((n, DIM)).astype(np.float32) * 0.02
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    sims = vectors @ q
    part = np.argpartition(-sims, k - 1)[:k]
    return part[np.argsort(-sims[part])]


def measure(name, search, qs, truth, k) -> dict:
    times, recall = [], []
    for q, want in zip(qs, truth):
        t = time.perf_counter()
        got = search(q, k)
        times.append(time.perf_counter() - t)
        recall.append(len(np.intersect1d(got, want)) / k)
    ms = np.asarray(times) * 1000
    return {"name": name, "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "recall": float(np.mean(recall))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=400)
    parser.add_argument("--k", type=int, default=600, help="neighbours asked for (the similar source keeps 300 after filtering)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2, help="threads for building (queries run on one)")
    parser.add_argument("--only", default="", help="comma-separated subset: exact,usearch-f16,usearch-i8,faiss-hnsw,faiss-ivf16,faiss-sq8-16,faiss-ivf48,faiss-sq8-48,faiss-sq4,faiss-pq48,faiss-pq96,hnswlib,fabula")
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s}
    rng = np.random.default_rng(1)
    vectors = clustered(args.posts, args.topics, rng)
    qs = queries(args.queries, vectors, rng)
    truth = [exact_top(vectors, q, args.k) for q in qs]
    print(f"{args.posts} posts x {DIM}, {args.topics} topics, k={args.k}, {args.queries} queries, build threads {args.threads}", flush=True)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="fabula-ann-"))

    def run(name, build, search, save):
        if only and name not in only:
            return
        gc.collect()
        before = rss_mb()
        t = time.perf_counter()
        try:
            index = build()
        except ImportError as e:
            print(f"{name}: skipped ({e})", flush=True)
            return
        built = time.perf_counter() - t
        grown = rss_mb() - before
        size = save(index, tmp / name) / 2**20 if save else 0.0
        row = measure(name, lambda q, k: search(index, q, k), qs, truth, args.k)
        row.update(build_s=built, rss_mb=grown, file_mb=size)
        rows.append(row)
        print(f"{name:12} build {built:7.1f} s  memory +{grown:6.0f} MB  file {size:6.0f} MB  query p50 {row['p50']:6.2f} ms"
              f"  p99 {row['p99']:6.2f} ms  recall@{args.k} {row['recall']:.3f}", flush=True)
        del index

    run("exact", lambda: vectors, lambda v, q, k: exact_top(v, q, k), None)

    def usearch_build(dtype):
        def build():
            from usearch.index import Index

            index = Index(ndim=DIM, metric="ip", dtype=dtype, connectivity=16, expansion_add=128, expansion_search=args.k)
            index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=args.threads)
            return index
        return build

    def usearch_save(index, path):
        index.save(str(path))
        return path.stat().st_size

    run("usearch-f16", usearch_build("f16"), lambda i, q, k: i.search(q, k, threads=1).keys, usearch_save)
    run("usearch-i8", usearch_build("i8"), lambda i, q, k: i.search(q, k, threads=1).keys, usearch_save)

    def faiss_hnsw():
        import faiss

        faiss.omp_set_num_threads(args.threads)
        index = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 128
        index.add(vectors)
        index.hnsw.efSearch = args.k
        return index

    def faiss_ivf(nprobe, sq8=False):
        def build():
            import faiss

            faiss.omp_set_num_threads(args.threads)
            nlist = int(4 * np.sqrt(len(vectors)))
            quantiser = faiss.IndexFlatIP(DIM)
            if sq8:
                index = faiss.IndexIVFScalarQuantizer(quantiser, DIM, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            else:
                index = faiss.IndexIVFFlat(quantiser, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors[rng.choice(len(vectors), min(len(vectors), 40 * nlist), replace=False)])
            index.add(vectors)
            index.nprobe = nprobe
            return index
        return build

    def faiss_search(index, q, k):
        import faiss

        faiss.omp_set_num_threads(1)
        return index.search(q[None, :], k)[1][0]

    def faiss_save(index, path):
        import faiss

        faiss.write_index(index, str(path))
        return path.stat().st_size

    run("faiss-hnsw", faiss_hnsw, faiss_search, faiss_save)
    for nprobe in (16, 48):
        run(f"faiss-ivf{nprobe}", faiss_ivf(nprobe), faiss_search, faiss_save)
        run(f"faiss-sq8-{nprobe}", faiss_ivf(nprobe, sq8=True), faiss_search, faiss_save)

    def faiss_factory(codes: str, nprobe: int = 48):
        def build():
            import faiss

            faiss.omp_set_num_threads(args.threads)
            nlist = int(2 * np.sqrt(len(vectors)))
            index = faiss.index_factory(DIM, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
            index.train(vectors[rng.choice(len(vectors), min(len(vectors), 40 * nlist), replace=False)])
            index.add(vectors)
            index.nprobe = nprobe
            return index
        return build

    for codes in ("SQ4", "PQ48", "PQ96"):
        run(f"faiss-{codes.lower()}", faiss_factory(codes), faiss_search, faiss_save)

    def hnsw_build():
        import hnswlib

        index = hnswlib.Index(space="ip", dim=DIM)
        index.init_index(max_elements=len(vectors), M=16, ef_construction=128)
        index.add_items(vectors, np.arange(len(vectors)), num_threads=args.threads)
        index.set_ef(args.k)
        index.set_num_threads(1)
        return index

    def hnsw_save(index, path):
        index.save_index(str(path))
        return path.stat().st_size

    run("hnswlib", hnsw_build, lambda i, q, k: i.knn_query(q, k)[0][0], hnsw_save)
    if not only or "fabula" in only:
        fabula_index(vectors, qs, truth, args, tmp)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0


READER = """
import sys, time, json, numpy as np, psutil
from pathlib import Path
from feed.ranking import ann
before = psutil.Process().memory_full_info()
t = time.perf_counter()
cat = ann.open_current(Path(sys.argv[1]))
opened = time.perf_counter() - t
qs = np.load(sys.argv[2])
times = []
for q in qs:
    t = time.perf_counter(); cat.search(q, int(sys.argv[3])); times.append(time.perf_counter() - t)
after = psutil.Process().memory_full_info()
ms = np.asarray(times) * 1000
print(json.dumps({"open_s": opened, "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                  "rss_mb": (after.rss - before.rss) / 2**20, "pss_mb": (after.pss - before.pss) / 2**20}))
"""


def fabula_index(vectors, qs, truth, args, tmp: Path) -> None:
    """The index as Fabula builds it (``feed.ranking.ann``), saved, then opened
    memory-mapped in a fresh process as an api process opens it: the memory its
    queries make resident there, and their latency."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from feed.ranking import ann

    ids = [f"post_{i:026d}" for i in range(len(vectors))]
    t = time.perf_counter()
    catalogue = ann.build(ids, vectors, threads=args.threads)
    built = time.perf_counter() - t
    t = time.perf_counter()
    ann.save(catalogue, tmp / "fabula")
    saved = time.perf_counter() - t
    size = sum(f.stat().st_size for f in (tmp / "fabula").glob("catalogue-*")) / 2**20
    row = measure("fabula", lambda q, k: np.asarray([int(x[5:]) for x in catalogue.search(q, k)]), qs, truth, args.k)
    del catalogue
    np.save(tmp / "queries.npy", qs)
    reader = subprocess.run([sys.executable, "-c", READER, str(tmp / "fabula"), str(tmp / "queries.npy"), str(args.k)],
                            capture_output=True, text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    mapped = json.loads(reader.stdout.strip().splitlines()[-1]) if reader.returncode == 0 else {}
    print(f"fabula       build {built:7.1f} s  save {saved:.1f} s  files {size:6.0f} MB  recall@{args.k} {row['recall']:.3f}"
          f"  | opened memory-mapped in a fresh process: open {mapped.get('open_s', float('nan')):.2f} s,"
          f" query p50 {mapped.get('p50', float('nan')):.2f} ms p99 {mapped.get('p99', float('nan')):.2f} ms,"
          f" RSS +{mapped.get('rss_mb', float('nan')):.0f} MB (PSS +{mapped.get('pss_mb', float('nan')):.0f} MB) after {len(qs)} queries"
          + ("" if reader.returncode == 0 else f"  [reader failed: {reader.stderr[-500:]}]"), flush=True)
    for f in (tmp / "fabula").iterdir():
        f.unlink()
    (tmp / "fabula").rmdir()
    (tmp / "queries.npy").unlink()


if __name__ == "__main__":
    raise SystemExit(main())
