"""The public check's perceptual index: lookup time at 10k and 1M stored
hashes (synthetic, random 64-bit), and false identifications among clips
made by the tiny pipeline (each clip's hashes stored, every clip's frames
checked against all the others').

    .venv/bin/python -m bench.provenance_index            # 10k, 1M, 200 clips
    .venv/bin/python -m bench.provenance_index --clips 30 --sizes 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from gen.provenance import phash
from gen.provenance.phash_index import HashIndex, match_copy


def lookups(size: int, queries: int = 1000) -> dict:
    rng = np.random.default_rng(size)
    stored = rng.integers(0, 2**63, size=size, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, size=size, dtype=np.uint64)
    index = HashIndex()
    started = time.perf_counter()
    index.add_many([f"v{i // 6}" for i in range(size)], stored)
    build_s = time.perf_counter() - started
    times = []
    for i in range(queries):
        q = int(stored[rng.integers(size)])
        for bit in rng.choice(64, size=int(rng.integers(0, 9)), replace=False):
            q ^= 1 << int(bit)
        t = time.perf_counter()
        index.search(q)
        times.append((time.perf_counter() - t) * 1000)
    ms = np.array(times)
    return {"size": size, "build_s": build_s, "p50": np.percentile(ms, 50), "p99": np.percentile(ms, 99), "max": ms.max()}


def false_matches(count: int) -> tuple[int, int]:
    import cv2
    import torch

    from gen.pipelines.registry import load_generator

    torch.set_num_threads(1)
    subjects = ["a cat", "a boat", "a city street", "a forest", "a river", "a kite", "a dancer", "a mountain", "a market", "rain"]
    with tempfile.TemporaryDirectory() as root:
        generator = load_generator("tiny", Path(root), device="cpu")
        clips = []
        for i in range(count):
            frames = generator.generate(f"{subjects[i % len(subjects)]}, take {i}", width=64, height=64, num_frames=9, steps=2, seed=5000 + i)
            clips.append(np.stack([cv2.resize(f, (256, 256), interpolation=cv2.INTER_CUBIC) for f in frames]))
    stored = [phash.frame_hashes(c) for c in clips]
    wrong = 0
    for i, clip in enumerate(clips):
        index = HashIndex()
        for j, hashes in enumerate(stored):
            if j != i:
                index.add(f"clip{j}", hashes)
        wrong += sum(1 for m in match_copy(index, phash.frame_hashes(clip, phash.QUERY_FRAMES)) if m.identified)
    return wrong, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--clips", type=int, default=200)
    args = parser.parse_args()
    print("| stored hashes | build | p50 lookup | p99 lookup | max |")
    print("| --- | --- | --- | --- | --- |")
    for size in [int(s) for s in args.sizes.split(",")]:
        r = lookups(size)
        print(f"| {r['size']:,} | {r['build_s']:.1f} s | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {r['max']:.2f} ms |")
    if args.clips:
        wrong, count = false_matches(args.clips)
        print(f"false identifications: {wrong} among {count} unrelated tiny-pipeline clips (each checked against the others)")


if __name__ == "__main__":
    main()
