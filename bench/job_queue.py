"""How much does the fair job queue cost over a bare Redis stream?

Starts an embedded Valkey in a temporary directory and measures, in the same
run and with the same harness, two transports:

  * ``fair``: Fabula's queue (``gen.queue``): enqueue = one Lua call (owner
    lane + ring + wake token); a worker takes with ``next_entry`` (one Lua
    call that acknowledges the previous entry, rotates the ring, XADDs and
    XREADGROUPs the job; BLPOP on the wake list when idle);
  * ``raw``: the baseline round trip, XADD onto one stream; a consumer
    pipelines XACK of the previous entry with XREADGROUP BLOCK COUNT 1.

Workers are no-ops: they take a job and take the next. A producer process
enqueues, consumer processes take; each job carries its enqueue time, so the
consumer sees enqueue -> pickup latency (wall clock, one host).

Two phases per transport, interleaved round by round (these machines are
noisy):
  * latency: the producer enqueues at a steady --rate (jobs/s) while workers
    wait: p50/p99 enqueue -> pickup;
  * throughput: --jobs enqueued as fast as --producers concurrent enqueuers
    can, drained by --workers workers: jobs/s from the first enqueue to the
    last pickup (and latency under that load).

Usage (from the repository root):
    .venv/bin/python bench/job_queue.py [--jobs 20000] [--rate 500] [--latency-jobs 2000]
        [--workers 8] [--consumer-procs 2] [--producers 32] [--owners 16] [--rounds 3]
        [--no-uvloop]

``--batching`` measures something else: whether running k jobs of the same
model, size, length and steps as one pipeline call beats k calls in a row
(frames/s), with the tiny preset by default:
    .venv/bin/python bench/job_queue.py --batching [--model tiny] [--shapes 64x64x1x4,...] [--k 1,2,4]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where its name
# would shadow the standard library's ``queue`` (imported by asyncio and
# multiprocessing): swap that folder for the repository root first.
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime

STOP = "stop"


def _job(owner: str, video_id: str):
    from gen.jobs import Job

    return Job(id=video_id, owner_id=owner, prompt="-", model="tiny", width=64, height=64, seconds=1, created_at=datetime.now(UTC))


def _stores(redis_url: str, namespace: str):
    from core.settings import Settings
    from core.stores import open_stores

    # Mongo is never touched: the client connects lazily and nothing here uses it
    return open_stores(Settings(redis_url=redis_url, namespace=namespace, mongo_url="mongodb://127.0.0.1:1"))


# --- producer -----------------------------------------------------------------


async def _produce(kind: str, redis_url: str, ns: str, n: int, rate: float | None, producers: int, owners: int, stops: int) -> tuple[float, float]:
    from gen import queue

    stores = _stores(redis_url, ns)
    stream = f"{ns}:raw"
    seq = iter(range(n))

    async def one(i: int) -> None:
        video_id = f"v{i}_{time.time_ns()}"
        if kind == "fair":
            await queue.enqueue(stores, _job(f"user_{i % owners}", video_id))
        else:
            await stores.redis.xadd(stream, {"v": video_id})

    async def lane() -> None:
        for i in seq:
            await one(i)

    cpu = time.process_time()
    first = time.time()
    if rate is None:
        await asyncio.gather(*(lane() for _ in range(producers)))
    else:
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await one(i)
    last = time.time()
    cpu = time.process_time() - cpu
    if kind == "fair":  # lanes are served round robin: stop only once every job has left its lane
        while (await queue.depth(stores)).queued:
            await asyncio.sleep(0.005)
    for _ in range(stops):
        if kind == "fair":
            await queue.enqueue(stores, _job("user_stop", STOP))
        else:
            await stores.redis.xadd(stream, {"v": STOP})
    await stores.close()
    return first, last, cpu


def _run(coro, use_uvloop: bool):
    """Run ``coro`` on uvloop (as ``fabula api`` and ``fabula worker`` do) or on asyncio's own loop."""
    factory = None
    if use_uvloop:
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def producer_main(kind, redis_url, ns, n, rate, producers, owners, stops, use_uvloop, out) -> None:
    out.put(_run(_produce(kind, redis_url, ns, n, rate, producers, owners, stops), use_uvloop))


# --- consumers ----------------------------------------------------------------


async def _consume(kind: str, redis_url: str, ns: str, workers: int, tag: str, ready) -> tuple[list[float], float]:
    from gen import queue

    stores = _stores(redis_url, ns)
    stream = f"{ns}:raw"
    if kind == "fair":
        await queue.ensure_group(stores)
    latencies: list[float] = []
    last_pickup = [0.0]

    async def fair_worker(name: str) -> None:
        ack = None
        while True:
            entry = await queue.next_entry(stores, name, visibility_ms=60_000, ack=ack, block_s=1.0)
            if entry is None:
                continue
            ack = entry.entry_id
            if entry.video_id == STOP:
                await queue.ack(stores, ack)
                return
            now = time.time_ns()
            latencies.append((now - int(entry.video_id.rsplit("_", 1)[1])) / 1e6)
            last_pickup[0] = now / 1e9

    async def raw_worker(name: str) -> None:
        ack = None
        while True:
            async with stores.redis.pipeline(transaction=False) as pipe:
                if ack is not None:
                    pipe.xack(stream, "workers", ack)
                pipe.xreadgroup("workers", name, {stream: ">"}, count=1, block=1000)
                reply = (await pipe.execute())[-1]
            if not reply:
                ack = None
                continue
            entry_id, fields = reply[0][1][0]
            ack = entry_id
            video_id = fields[b"v"].decode()
            if video_id == STOP:
                await stores.redis.xack(stream, "workers", ack)
                return
            now = time.time_ns()
            latencies.append((now - int(video_id.rsplit("_", 1)[1])) / 1e6)
            last_pickup[0] = now / 1e9

    run = fair_worker if kind == "fair" else raw_worker
    tasks = [asyncio.create_task(run(f"{tag}-{i}")) for i in range(workers)]
    ready.set()
    cpu = time.process_time()
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu
    await stores.close()
    return latencies, last_pickup[0], cpu


def consumer_main(kind, redis_url, ns, workers, tag, ready, use_uvloop, out) -> None:
    out.put(_run(_consume(kind, redis_url, ns, workers, tag, ready), use_uvloop))


# --- one phase ------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def phase(kind: str, redis_url: str, *, n: int, rate: float | None, workers: int, procs: int, producers: int, owners: int, use_uvloop: bool = True) -> dict:
    import redis

    ns = "bench" + uuid.uuid4().hex[:8]
    admin = redis.Redis.from_url(redis_url)
    if kind == "raw":
        admin.xgroup_create(f"{ns}:raw", "workers", id="0", mkstream=True)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    readies, consumers = [], []
    for p in range(procs):
        ready = ctx.Event()
        proc = ctx.Process(target=consumer_main, args=(kind, redis_url, ns, workers // procs, f"c{p}", ready, use_uvloop, out))
        proc.start()
        readies.append(ready)
        consumers.append(proc)
    for ready in readies:
        ready.wait(60)
    time.sleep(0.3)  # let every worker reach its blocking read (a start-up pause, not a synchronisation)
    cpu0 = admin.info("cpu")
    pout = ctx.Queue()
    producer = ctx.Process(target=producer_main, args=(kind, redis_url, ns, n, rate, producers, owners, (workers // procs) * procs, use_uvloop, pout))
    producer.start()
    first, last_enqueue, producer_cpu = pout.get(timeout=600)
    results = [out.get(timeout=600) for _ in consumers]
    producer.join()
    for proc in consumers:
        proc.join()
    cpu1 = admin.info("cpu")
    server_s = sum(cpu1[k] - cpu0[k] for k in ("used_cpu_user", "used_cpu_sys"))
    admin.close()
    latencies = [x for lat, _, _ in results for x in lat]
    last_pickup = max(t for _, t, _ in results)
    assert len(latencies) == n, f"{kind}: {len(latencies)} of {n} jobs picked up"
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": pct(latencies, 99),
        "jobs_s": n / (last_pickup - first),
        "enqueue_s": n / (last_enqueue - first),
        "server_us": server_s / n * 1e6,  # Valkey CPU per job (all of its threads)
        "producer_us": producer_cpu / n * 1e6,  # enqueuing process CPU per job
        "consumer_us": sum(c for _, _, c in results) / n * 1e6,  # worker processes' CPU per job
    }


# --- batching: k same-shape jobs in one pipeline call, or one after another? -------


def batching(models_root: Path, model: str, shapes: list[tuple[int, int, int, int]], ks: list[int], rounds: int, threads: int = 0) -> None:
    """Frames/s of k jobs sharing model, size, length and steps: k sequential
    pipeline calls against one call with k prompts (a list of generators, one
    seed each). Both call the loaded diffusers pipeline the same way, prompt
    encoding included, so only the batching differs."""
    import torch

    from gen.pipelines.registry import load_generator

    if threads:
        torch.set_num_threads(threads)
    g = load_generator(model, models_root)
    pipe, spec = g.pipe, g.spec
    print(f"model {model} ({type(pipe).__name__}) on {g.device}, torch threads {torch.get_num_threads()}")
    prompts = ["a red fox in snow", "waves at dusk", "a kite over dunes", "lanterns on a river", "a paper boat", "a city at night", "a cat on a roof", "rain on glass"]

    def call(batch: list[str], seeds: list[int], width: int, height: int, frames: int, steps: int) -> int:
        kwargs = g.family.call_kwargs(spec, width=width, height=height, num_frames=frames, steps=steps)
        kwargs.update(spec.call_kwargs)
        gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
        neg = spec.negative_prompt
        with torch.inference_mode():
            out = pipe(
                prompt=batch if len(batch) > 1 else batch[0],
                negative_prompt=([neg] * len(batch) if len(batch) > 1 else neg) if neg else None,
                generator=gens if len(gens) > 1 else gens[0],
                output_type="pt",
                **kwargs,
            )
        got = out.frames
        assert len(got) == len(batch) and tuple(got[0].shape[-2:]) == (height, width), (len(got), got[0].shape)
        return len(batch) * frames

    def timed(runs: list[tuple[float, float]], batch: list[str], seeds: list[int], width: int, height: int, frames: int, steps: int) -> None:
        """One batch in one call (len(batch) == 1: one job), wall and CPU time appended to ``runs``."""
        t, c = time.perf_counter(), time.process_time()
        call(batch, seeds, width, height, frames, steps)
        runs.append((time.perf_counter() - t, time.process_time() - c))

    for width, height, seconds, steps in shapes:
        frames = g.frame_count(seconds)
        call(prompts[:1], [0], width, height, frames, steps)  # warm-up
        for k in ks:
            batch = [prompts[i % len(prompts)] for i in range(k)]
            sequential: list[tuple[float, float]] = []  # one entry per job
            batched: list[tuple[float, float]] = []  # one entry per batch of k
            for r in range(rounds):  # interleaved, alternating which goes first: noise hits both alike
                for which in ("seq", "bat") if r % 2 == 0 else ("bat", "seq"):
                    if which == "seq":
                        for i in range(k):
                            timed(sequential, batch[i : i + 1], [i], width, height, frames, steps)
                    else:
                        timed(batched, batch, list(range(k)), width, height, frames, steps)
            # per round: k sequential calls against one batched call
            seq_wall = statistics.median(sum(w for w, _ in sequential[r * k : (r + 1) * k]) for r in range(rounds))
            seq_cpu = statistics.median(sum(c for _, c in sequential[r * k : (r + 1) * k]) for r in range(rounds))
            bat_wall = statistics.median(w for w, _ in batched)
            bat_cpu = statistics.median(c for _, c in batched)
            n = k * frames
            print(
                f"{width}x{height} {seconds}s ({frames} frames) {steps} steps, k={k}: "
                f"wall: sequential {n / seq_wall:6.1f} frames/s, batched {n / bat_wall:6.1f} frames/s, x{seq_wall / bat_wall:.2f} | "
                f"CPU: sequential {n / seq_cpu:6.1f} frames/cpu-s, batched {n / bat_cpu:6.1f}, x{seq_cpu / bat_cpu:.2f}",
                flush=True,
            )


def main() -> int:
    if "--batching" in sys.argv:
        bp = argparse.ArgumentParser(description="batching k same-shape jobs against running them one by one")
        bp.add_argument("--batching", action="store_true")
        bp.add_argument("--model", default="tiny")
        bp.add_argument("--models-root", default=str(ROOT / "var" / "test-models"))
        bp.add_argument("--shapes", default="64x64x1x4,128x128x1x4,64x64x2x8", help="WxHxSECONDSxSTEPS,...")
        bp.add_argument("--k", default="1,2,4")
        bp.add_argument("--rounds", type=int, default=6)
        bp.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
        b = bp.parse_args()
        shapes = [tuple(int(x) for x in item.split("x")) for item in b.shapes.split(",")]
        batching(Path(b.models_root), b.model, shapes, [int(k) for k in b.k.split(",")], b.rounds, b.threads)
        return 0

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=20000, help="jobs in the throughput phase")
    ap.add_argument("--latency-jobs", type=int, default=2000, help="jobs in the latency phase")
    ap.add_argument("--rate", type=float, default=500.0, help="enqueue rate of the latency phase (jobs/s)")
    ap.add_argument("--workers", type=int, default=8, help="no-op workers (consumers)")
    ap.add_argument("--consumer-procs", type=int, default=2, help="processes the workers are spread over")
    ap.add_argument("--producers", type=int, default=32, help="concurrent enqueuers in the throughput phase")
    ap.add_argument("--owners", type=int, default=16, help="users the jobs belong to (fair lanes)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-uvloop", action="store_true", help="asyncio's own event loop instead of uvloop")
    args = ap.parse_args()

    from core.embedded import start_valkey

    with tempfile.TemporaryDirectory(prefix="fabula-bench-queue-") as tmp:
        valkey = start_valkey(Path(tmp) / "valkey")
        url = f"redis://127.0.0.1:{valkey.port}/0"
        try:
            rows: dict[tuple[str, str], list[dict]] = {}
            for r in range(args.rounds):
                for kind in ("raw", "fair"):
                    common = {"workers": args.workers, "procs": args.consumer_procs, "owners": args.owners, "use_uvloop": not args.no_uvloop}
                    lat = phase(kind, url, n=args.latency_jobs, rate=args.rate, producers=1, **common)
                    thr = phase(kind, url, n=args.jobs, rate=None, producers=args.producers, **common)
                    rows.setdefault((kind, "latency"), []).append(lat)
                    rows.setdefault((kind, "throughput"), []).append(thr)
                    print(
                        f"round {r + 1} {kind:4}: idle pickup p50 {lat['p50_ms']:.2f} ms p99 {lat['p99_ms']:.2f} ms | "
                        f"flat out {thr['jobs_s']:.0f} jobs/s (enqueue {thr['enqueue_s']:.0f}/s, pickup p50 {thr['p50_ms']:.1f} ms p99 {thr['p99_ms']:.1f} ms, "
                        f"CPU us/job: Valkey {thr['server_us']:.0f}, enqueuer {thr['producer_us']:.0f}, workers {thr['consumer_us']:.0f})",
                        flush=True,
                    )
        finally:
            valkey.stop()

    def med(kind: str, ph: str, key: str) -> float:
        return statistics.median(row[key] for row in rows[(kind, ph)])

    def best(kind: str) -> float:
        return max(row["jobs_s"] for row in rows[(kind, "throughput")])

    print()
    loop = "asyncio" if args.no_uvloop else "uvloop"
    print(f"workers {args.workers} in {args.consumer_procs} process(es), {args.producers} concurrent enqueuers, {args.owners} owners, {loop}; medians of {args.rounds} rounds")
    print(f"{'':6}{'idle p50 ms':>12}{'idle p99 ms':>12}{'jobs/s':>10}{'best jobs/s':>13}{'CPU us/job':>12}")
    for kind in ("raw", "fair"):
        cpu = sum(med(kind, "throughput", k) for k in ("server_us", "producer_us", "consumer_us"))
        print(
            f"{kind:6}{med(kind, 'latency', 'p50_ms'):12.2f}{med(kind, 'latency', 'p99_ms'):12.2f}"
            f"{med(kind, 'throughput', 'jobs_s'):10.0f}{best(kind):13.0f}{cpu:12.0f}"
        )
    print(
        f"fair/raw: p50 x{med('fair', 'latency', 'p50_ms') / med('raw', 'latency', 'p50_ms'):.2f}, "
        f"p99 x{med('fair', 'latency', 'p99_ms') / med('raw', 'latency', 'p99_ms'):.2f}, "
        f"jobs/s x{med('fair', 'throughput', 'jobs_s') / med('raw', 'throughput', 'jobs_s'):.2f}"
    )
    ok = med("fair", "latency", "p50_ms") <= 5 and med("fair", "throughput", "jobs_s") >= 5000
    print(f"goal (p50 <= 5 ms, >= 5000 jobs/s, medians): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
