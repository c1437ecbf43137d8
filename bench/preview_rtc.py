"""Step-to-frame latency of live previews: WebRTC against the WebSocket, on
loopback.

Starts an embedded Valkey and nx-27017 and one api process (offering
127.0.0.1 as its ICE candidate), signs up a user and makes a job that no
worker runs. This process then publishes previews into the job's preview
stream the way the worker does (``gen.previews.publish``, one every
``--interval-ms``) while two clients of the same job receive them at the
same time:

  * ``websocket``: ``subscribe {previews: true}`` on ``/v1/ws``; a preview
    counts as shown once its binary frame is read and its JPEG decoded;
  * ``webrtc``: an aiortc peer (``fabula_client.rtc``) signalled with
    ``POST /v1/videos/{id}/preview/rtc``; a preview counts as shown once the
    frame that carries it comes out of the track's decoder.

Each picture carries its sequence number as a 4×4 grid of black and white
cells (16 bits, readable after VP8), and the WebSocket frame carries it as
its step, so each receiver knows which publish it saw. Latency is from just
before the publish (the JPEG is made beforehand, as the worker makes it
before it publishes) to shown; one clock, one host. Previews a receiver
never shows (superseded while it was busy) count as lost. Also printed: how
long each client took from asking to its first picture (a preview is waiting
in the stream when they ask).

Usage (from the repository root):
    .venv/bin/python bench/preview_rtc.py [--frames 200] [--interval-ms 100] [--size 256x256] [--rounds 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), str(ROOT / "clients")] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

GRID = 4  # cells per side: GRID * GRID bits of sequence number


def marker_jpeg(seq: int, width: int, height: int) -> bytes:
    """A picture whose cells spell ``seq`` (bit i: cell i white), with a soft gradient behind the grid lines."""
    import numpy as np
    from PIL import Image

    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 2] = np.linspace(40, 90, width, dtype=np.uint8)[None, :]
    cw, ch = width // GRID, height // GRID
    for bit in range(GRID * GRID):
        y, x = divmod(bit, GRID)
        value = 235 if seq >> bit & 1 else 20
        img[y * ch + 2 : (y + 1) * ch - 2, x * cw + 2 : (x + 1) * cw - 2] = value
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="JPEG", quality=85)
    return out.getvalue()


def read_marker(gray) -> int:
    """The sequence number in a decoded picture (a 2-D luma array)."""
    height, width = gray.shape
    cw, ch = width // GRID, height // GRID
    seq = 0
    for bit in range(GRID * GRID):
        y, x = divmod(bit, GRID)
        cell = gray[y * ch + ch // 4 : (y + 1) * ch - ch // 4, x * cw + cw // 4 : (x + 1) * cw - cw // 4]
        if cell.mean() > 128:
            seq |= 1 << bit
    return seq


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_api(env: dict[str, str], log_path: Path, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    import httpx

    from core.embedded import free_port

    port = free_port()
    with open(log_path, "wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "api", "--port", str(port)], env=env, cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError("api not ready")


class Receiver:
    def __init__(self, name: str):
        self.name = name
        self.shown: dict[int, float] = {}  # seq -> perf_counter when first shown
        self.asked = 0.0

    def see(self, seq: int) -> None:
        if seq not in self.shown:
            self.shown[seq] = time.perf_counter()


async def receive_ws(ws, receiver: Receiver, video_id: str) -> None:
    from PIL import Image

    from fabula_client import PreviewFrame

    async for msg in ws.messages():
        if isinstance(msg, PreviewFrame) and msg.video_id == video_id:
            Image.open(io.BytesIO(msg.image)).load()  # decoded: ready to draw
            receiver.see(msg.step)


async def receive_rtc(preview, receiver: Receiver) -> None:
    async for frame in preview.frames():
        receiver.see(read_marker(frame.to_ndarray(format="gray")))


async def one_round(url: str, stores, client, args, width: int, height: int, round_no: int) -> dict:
    from fabula_client.rtc import open_rtc_preview
    from gen import jobs, previews

    me = await client.me()
    job = await jobs.create_job(stores, owner_id=me["id"], prompt="bench", model="tiny", width=64, height=64, seconds=1, steps=args.frames + 1)
    base = round_no * 1000  # distinct sequence numbers per round (16 bits)
    pictures = {base + i: marker_jpeg(base + i, width, height) for i in range(args.frames + 1)}

    async def publish(seq: int) -> float:
        at = time.perf_counter()
        await previews.publish(stores, previews.Preview(video_id=job.id, step=seq, steps=base + args.frames, progress=0, image=pictures[seq]))
        return at

    published: dict[int, float] = {base: await publish(base)}  # waiting in the stream when the clients ask
    ws_rx, rtc_rx = Receiver("websocket"), Receiver("webrtc")
    async with client.socket() as ws:
        ws_rx.asked = time.perf_counter()
        await ws.subscribe(job.id, previews=True)
        ws_task = asyncio.create_task(receive_ws(ws, ws_rx, job.id))
        rtc_rx.asked = time.perf_counter()
        preview = await open_rtc_preview(client, job.id, host_addresses=["127.0.0.1"], timeout=20.0)
        rtc_task = asyncio.create_task(receive_rtc(preview, rtc_rx))
        try:
            deadline = time.monotonic() + 20
            while (base not in ws_rx.shown or base not in rtc_rx.shown) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            for i in range(1, args.frames + 1):
                published[base + i] = await publish(base + i)
                await asyncio.sleep(args.interval_ms / 1000)
            await asyncio.sleep(0.5)  # the last frames land
        finally:
            rtc_task.cancel()
            ws_task.cancel()
            await preview.close()
    await jobs.delete_job(stores, job.id)

    out = {}
    for rx in (ws_rx, rtc_rx):
        measured = [rx.shown[s] - published[s] for s in published if s != base and s in rx.shown and s >= base + args.warmup]
        expected = len([s for s in published if s >= base + args.warmup and s != base])
        first = rx.shown.get(base)
        out[rx.name] = {
            "latencies_ms": [m * 1000 for m in measured],
            "lost": expected - len(measured),
            "first_ms": (first - rx.asked) * 1000 if first else None,
        }
    return out


async def run(args) -> int:
    from core.embedded import EmbeddedServices
    from core.settings import Settings
    from core.stores import open_stores
    from fabula_client import FabulaClient

    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="fabula-bench-rtc-") as tmp:
        tmp_path = Path(tmp)
        services = EmbeddedServices.start(tmp_path / "services")
        api = stores = None
        try:
            namespace = "bench" + uuid.uuid4().hex[:8]
            settings = Settings(mongo_url=services.mongo_url, redis_url=services.redis_url, namespace=namespace, data_dir=tmp_path / "data")
            stores = open_stores(settings)
            env = dict(os.environ)
            env.update(FABULA_MONGO_URL=services.mongo_url, FABULA_REDIS_URL=services.redis_url, FABULA_NAMESPACE=namespace,
                       FABULA_DATA_DIR=str(tmp_path / "data"), FABULA_LOG_LEVEL="WARNING", FABULA_RATE_SIGNUP_IP="off",
                       FABULA_RTC_HOST_ADDRESSES="127.0.0.1")
            api, url = start_api(env, tmp_path / "api.log")
            print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; previews {width}x{height} JPEG every "
                  f"{args.interval_ms:.0f} ms, {args.frames} per round ({args.warmup} warm-up), {args.rounds} round(s)", flush=True)
            rounds = []
            async with FabulaClient(url, timeout=60) as client:
                await client.signup("bench" + uuid.uuid4().hex[:6], "bench password " + uuid.uuid4().hex, "1990-01-01")
                for r in range(args.rounds):
                    result = await one_round(url, stores, client, args, width, height, r + 1)
                    rounds.append(result)
                    line = "  ".join(
                        f"{name} p50 {statistics.median(v['latencies_ms']):.1f} ms (lost {v['lost']}, first {v['first_ms'] or float('nan'):.0f} ms)"
                        for name, v in result.items() if v["latencies_ms"]
                    )
                    print(f"round {r + 1}: {line}", flush=True)
        finally:
            if api is not None:
                os.killpg(api.pid, signal.SIGTERM)
                api.wait(15)
            if stores is not None:
                await stores.close()
            services.stop()

    summary = {}
    print(f"\n{'transport':<10} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} {'first ms':>9}")
    for name in ("websocket", "webrtc"):
        values = [v for r in rounds for v in r[name]["latencies_ms"]]
        lost = sum(r[name]["lost"] for r in rounds)
        firsts = [r[name]["first_ms"] for r in rounds if r[name]["first_ms"] is not None]
        if not values:
            print(f"{name:<10} no frames")
            continue
        row = {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90), "p99": percentile(values, 99),
               "max": max(values), "lost": lost, "first_median": statistics.median(firsts) if firsts else None}
        summary[name] = row
        print(f"{name:<10} {row['n']:>5} {row['p50']:>8.1f} {row['p90']:>8.1f} {row['p99']:>8.1f} {row['max']:>8.1f} {lost:>5} "
              f"{row['first_median'] or float('nan'):>9.0f}")
    if "websocket" in summary and "webrtc" in summary:
        ratio = summary["webrtc"]["p50"] / summary["websocket"]["p50"]
        print(f"\nwebrtc ÷ websocket, p50: ×{ratio:.2f}; goal p50 ≤ 50 ms for both: "
              f"websocket {'met' if summary['websocket']['p50'] <= 50 else 'NOT met'}, webrtc {'met' if summary['webrtc']['p50'] <= 50 else 'NOT met'}")
    if args.json:
        print(json.dumps(summary))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="previews per round (default 200)")
    parser.add_argument("--interval-ms", type=float, default=100.0, help="time between previews (default 100: 10 steps/s)")
    parser.add_argument("--warmup", type=int, default=10, help="first previews of a round left out (default 10)")
    parser.add_argument("--size", default="256x256", help="preview picture WxH (default 256x256)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    args = parser.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
