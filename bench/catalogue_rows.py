"""What the catalogue reader's kept rows cost, and whether their churn grows
the heap: the reader's own bookkeeping (``CatalogueReader.keep``) fed with
posts decoded from BSON as the driver gives them, at the reader's pace
(``READS_PER_S``) for ``--minutes`` of reads, in a process of its own (no
servers). Prints the RSS after each minute's worth of reads.

    .venv/bin/python bench/catalogue_rows.py [--minutes 10] [--posts 1000000]

At 1M posts the api's reader fills its ``KEEP`` rows within the first two
minutes of a swipe run (``fabula_feed_catalogue_rows_kept``); this shows
what that fill costs and that the replacement of rows afterwards does not
add to it (docs/PERFORMANCE.md, memory over 10 minutes). The rows' arrays
are reserved first, as the api does when it opens the index (the RSS the
reserve takes is printed apart); ``--no-reserve`` lets them grow as posts
come instead."""

from __future__ import annotations

import argparse
import ctypes
import gc
import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bson
import numpy as np
from ulid import ULID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feed.live.catalogue import KEEP, READ_CHUNK, READS_PER_S, CatalogueReader  # noqa: E402
from feed.ranking.pool import PostPool  # noqa: E402
from feed.social import counters  # noqa: E402
from feed.social.posts import Post, _to_post, embedding_of, post_doc  # noqa: E402


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def stored(n: int, now: datetime) -> bytes:
    """Post number ``n`` of the catalogue as its BSON document (the same post for the same ``n``)."""
    rng = random.Random(n)
    vector = np.random.default_rng(n).standard_normal(384).astype(np.float32)
    created = now - timedelta(seconds=rng.uniform(0, 7 * 24 * 3600))
    post = Post(
        id=f"post_{str(ULID.from_timestamp(created.timestamp())).lower()}{n}", author_id=f"user_{rng.randrange(5000)}",
        video_id=f"video_{n}", caption="a cat surfing at dawn", created_at=created, prompt="a cat surfing at dawn",
        embedding=(vector / np.linalg.norm(vector)).tolist(),
    )
    doc = post_doc(post)
    doc.update(views=rng.randrange(100), likes=rng.randrange(10), completes=rng.randrange(50), watch_ms=rng.randrange(10**6), shares=0)
    return bson.encode(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--posts", type=int, default=1_000_000, help="the catalogue the reads are drawn from")
    parser.add_argument("--no-reserve", action="store_true", help="let the rows' arrays grow as posts come (no index opened)")
    args = parser.parse_args()
    trim = ctypes.CDLL("libc.so.6").malloc_trim
    now, rng = datetime.now(timezone.utc), random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        reader = CatalogueReader(None, PostPool(None), directory=Path(tmp))  # type: ignore[arg-type]  # no servers: keep() alone
        baseline = rss_mib()
        print(f"KEEP {KEEP} rows, {READS_PER_S:.0f} reads a second; RSS before {baseline:.1f} MiB", flush=True)
        if not args.no_reserve:
            reader.rows.reserve(min(KEEP, args.posts))  # as the api does when it opens the index
            reserved = rss_mib()
            print(f"after the reserve of {reader.rows.allocated} slots: RSS {reserved:.1f} MiB "
                  f"({(reserved - baseline) * 1024 / max(1, reader.rows.allocated):.2f} KiB a slot)", flush=True)
            baseline = reserved
        per_minute = int(READS_PER_S * 60)
        full_at = None
        for minute in range(1, args.minutes + 1):
            for _ in range(per_minute // READ_CHUNK):
                docs = [bson.decode(stored(rng.randrange(args.posts), now)) for _ in range(READ_CHUNK)]
                ids = [d["_id"] for d in docs]
                vectors = {d["_id"]: embedding_of(d) for d in docs}
                got = {d["_id"]: _to_post({k: v for k, v in d.items() if k != "embedding"}) for d in docs}
                counts = {d["_id"]: counters._from_doc(d) for d in docs}
                reader.keep(ids, got, vectors, counts, now.timestamp())
            gc.collect()
            trim(0)  # as the api's heap trim does
            rss = rss_mib()
            full_at = full_at if full_at is not None or len(reader.rows) < KEEP else (minute, rss)
            print(f"after {minute} minute(s) of reads: {len(reader.rows)} rows kept, {len(reader.pool.outside)} posts; RSS {rss:.1f} MiB", flush=True)
        if full_at is not None:
            minute, at_full = full_at
            print(f"per row, beyond the reserve: {(at_full - baseline) * 1024 / KEEP:.2f} KiB (to the fill at minute {minute}); "
                  f"after it, {rss - at_full:+.1f} MiB over {args.minutes - minute} minute(s) of replaced rows "
                  f"({rss / at_full:.3f}x)", flush=True)


if __name__ == "__main__":
    main()
