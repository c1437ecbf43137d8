"""What does a post's embedding cost nx-27017, by the way it is stored?

A post document carries its 384-number embedding. nx-27017 keeps each
document as JSON in SQLite and parses it whole on every read and update, so
the embedding's form weighs on every command on a post, not just on the
reads that want it. This loads ``--posts`` post-shaped documents into an
embedded nx-27017 three times, in three collections:

  * ``list``: the embedding as a list of numbers (how posts were stored before);
  * ``bytes``: as little-endian float32 bytes, a BSON binary
    (``feed.social.posts.embedding_field``, how they are stored now);
  * ``none``: no embedding at all (the floor).

and times, per collection: the bulk load, ``find_one_and_update`` with
``$inc`` by ``_id`` (a like), ``update_one`` ``$inc``, and an ``_id $in`` of
100 random posts with and without the embedding in the projection (the
catalogue reader's and the pool's reads). It prints milliseconds and each
form's ratio to ``list``, measured in the same run.

Usage (from the repository root):
    .venv/bin/python bench/post_docs.py [--posts 20000] [--ops 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from pymongo import AsyncMongoClient, ReturnDocument  # noqa: E402

from core.embedded import start_mongo  # noqa: E402
from feed.social.posts import embedding_field  # noqa: E402

FORMS = {
    "list": lambda v: [float(x) for x in v],
    "bytes": embedding_field,
    "none": None,
}
READS = 20  # _id $in reads of 100 posts, per measure


def post_id(n: int) -> str:
    return f"post_{n:010d}"


async def measure(col, posts: int, ops: int, encode, rng: np.random.Generator) -> dict[str, float]:
    out: dict[str, float] = {}
    started = time.perf_counter()
    for first in range(0, posts, 1000):
        docs = []
        for n in range(first, min(posts, first + 1000)):
            doc = {"_id": post_id(n), "author_id": f"user_{n % 997}", "video_id": f"video_{n}", "caption": "a fox in the snow at dawn",
                   "prompt": "a fox in the snow at dawn", "visibility": "public", "views": 0, "likes": 0, "comments": 0}
            if encode is not None:
                vector = rng.standard_normal(384).astype(np.float32)
                doc["embedding"] = encode(vector / np.linalg.norm(vector))
            docs.append(doc)
        await col.insert_many(docs)
    out["load s"] = time.perf_counter() - started

    picks = [post_id(int(n)) for n in rng.integers(0, posts, ops)]
    started = time.perf_counter()
    for pid in picks:
        await col.find_one_and_update({"_id": pid}, {"$inc": {"likes": 1}}, projection={"embedding": 0}, return_document=ReturnDocument.AFTER)
    out["findAndModify ms"] = (time.perf_counter() - started) / ops * 1000
    started = time.perf_counter()
    for pid in picks:
        await col.update_one({"_id": pid}, {"$inc": {"views": 1}})
    out["update_one ms"] = (time.perf_counter() - started) / ops * 1000
    for label, projection in (("find 100 ms", None), ("find 100 no-emb ms", {"embedding": 0})):
        times = []
        for _ in range(READS):
            ids = [post_id(int(n)) for n in rng.choice(posts, 100, replace=False)]
            started = time.perf_counter()
            got = [d async for d in col.find({"_id": {"$in": ids}}, projection)]
            times.append((time.perf_counter() - started) * 1000)
            assert len(got) == 100
        out[label] = statistics.median(times)
    return out


async def main(posts: int, ops: int) -> None:
    service = start_mongo(Path(tempfile.mkdtemp(prefix="fabula-bench-posts-")))
    client = AsyncMongoClient(f"mongodb://127.0.0.1:{service.port}")
    try:
        results = {}
        for form, encode in FORMS.items():
            results[form] = await measure(client["bench"][form], posts, ops, encode, np.random.default_rng(7))
            print(f"{form}: " + ", ".join(f"{k} {v:.2f}" for k, v in results[form].items()), flush=True)
        print(f"\n{posts} posts, {ops} updates each; ratio to the list form (lower is cheaper):")
        for measure_name in results["list"]:
            base = results["list"][measure_name]
            row = ", ".join(f"{form} {results[form][measure_name] / base:.2f}x" for form in ("bytes", "none"))
            print(f"  {measure_name:<20} list {base:8.2f}   {row}")
    finally:
        await client.close()
        service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--ops", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.ops))
