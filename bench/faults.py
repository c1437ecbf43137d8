"""What each fault costs under a steady mixed load, measured: the long form
of the fault suite (``tests/faults``, same harness: ``tests/faults/harness.py``).

Starts one private installation (embedded Valkey with its append-only file,
nx-27017, two api processes, one worker on the tiny preset), seeds posts,
then for each fault in turn runs the load (swipers driving feed sessions
over WebSockets and resuming them on any api, likers, commenters, creators
of tiny videos who publish them), breaks something, repairs it (or lets the
installation repair itself), and reports:

  * ops: operations the load made, and how many were refused (503 with
    Retry-After, or a dropped connection a client moved past);
  * lost: broken promises (a video not completed exactly once, a feed
    session with a gap or a repeat, a counter that disagrees with Mongo, a
    5xx other than 503 + Retry-After, a half-written file): the goal is 0;
  * recovery: per kind of operation, the time from the fault to its last
    failure; plus the fault's own milestones (the interrupted job done, the
    sockets resumed, the jobs that met a broken store done after the fix).

Usage (from the repository root):
    .venv/bin/python bench/faults.py [--faults worker,valkey,mongo,api,media-full,media-read-only,media-disk-full]
        [--rounds 1] [--before 10] [--outage 10] [--after 10] [--posts 24]
        [--swipers 8] [--likers 3] [--commenters 2] [--creators 2] [--json results.json]

It prints a Markdown table for docs/RELIABILITY.md. The media cases need a
tmpfs mount (root with CAP_SYS_ADMIN) for "read-only"; "full" falls back to
the workers' file-size limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.faults.harness import FAULTS, Cluster, LoadShape, Timing, make_posts, run_case, signup, wait_ready  # noqa: E402


def table(rows: list[dict], shape: LoadShape, timing: Timing) -> str:
    load = (
        f"{shape.swipers} swipers, {shape.likers} likers, {shape.commenters} commenters, {shape.creators} creators"
    )
    out = [
        f"Load: {load}; {timing.before_s:.0f} s before the fault, outages of {timing.outage_s:.0f} s, {timing.after_s:.0f} s after.",
        "",
        "| fault | ops | refused (503 / drop) | lost | recovery | notes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        recovery = "; ".join(f"{k} {v:.1f} s" for k, v in sorted(r["recovery_s"].items())) or "none needed"
        notes = ", ".join(f"{k}: {v}" for k, v in r["notes"].items())
        broken = r["lost"] + r["server_errors"]
        lost = str(len(broken)) + (f" ({'; '.join(broken[:2])})" if broken else "")
        out.append(f"| {r['fault']} | {r['ops']} | {r['failed_ops']} | {lost} | {recovery} | {notes} |")
    return "\n".join(out)


async def main(args: argparse.Namespace) -> list[dict]:
    shape = LoadShape(swipers=args.swipers, likers=args.likers, commenters=args.commenters, creators=args.creators)
    timing = Timing(before_s=args.before, outage_s=args.outage, after_s=args.after, settle_s=300.0)
    model_dir = Path(os.environ.get("FABULA_TEST_MODEL_DIR", ROOT / "var" / "test-models"))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="fabula-faults-") as tmp:
        cluster = Cluster.start(Path(tmp), model_dir, apis=2, workers=1)
        try:
            await wait_ready(cluster)
            async with httpx.AsyncClient(base_url=cluster.urls[0], timeout=30) as http:
                author = await signup(http, "author")
                people = [await signup(http, "p") for _ in range(args.likers + args.commenters + args.creators + 2)]
                posts = await make_posts(http, author, args.posts)
            for round_ in range(args.rounds):
                for name in args.faults.split(","):
                    if name.startswith("media") and not cluster.media.supports(name.removeprefix("media-")):
                        print(f"skipping {name}: no tmpfs mount here", file=sys.stderr)
                        continue
                    began = time.monotonic()
                    report = await run_case(cluster, name, people, posts, shape, timing)
                    print(report.line(), report.notes, f"({time.monotonic() - began:.0f} s)", flush=True)
                    rows.append({"round": round_, **report.__dict__})
        finally:
            cluster.stop()
    print()
    print(table(rows, shape, timing))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return rows


def stop_on_sigterm() -> None:
    # SIGTERM unwinds like Ctrl-C, so the installation (servers, mounts) is taken down
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))


if __name__ == "__main__":
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--before", type=float, default=10.0)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=10.0)
    parser.add_argument("--posts", type=int, default=24)
    parser.add_argument("--swipers", type=int, default=8)
    parser.add_argument("--likers", type=int, default=3)
    parser.add_argument("--commenters", type=int, default=2)
    parser.add_argument("--creators", type=int, default=2)
    parser.add_argument("--json", default="")
    rows = asyncio.run(main(parser.parse_args()))
    sys.exit(1 if any(r["lost"] or r["server_errors"] for r in rows) else 0)
