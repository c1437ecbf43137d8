"""A bot that watches a video's live preview over WebRTC (aiortc) and saves
its frames.

    pip install './clients[rtc]'
    python clients/examples/watch_preview_rtc.py http://127.0.0.1:8000 --out frames/

It makes a video (``--prompt``), or watches one of its own (``--video-id``),
connects a receiving peer (``POST /v1/videos/{id}/preview/rtc``), and saves
every frame the track sends as ``frames/00001.png``… : the previews of the
denoising steps, then the finished clip, until the server ends the track.
``--loopback`` offers 127.0.0.1 as its ICE candidate (a machine whose only
interface is loopback)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from _common import parser, run, signed_in
from fabula_client.rtc import open_rtc_preview


async def watch(client, video_id: str, out: Path, args) -> int:
    saved = 0
    host_addresses = ["127.0.0.1"] if args.loopback else None
    async with await open_rtc_preview(client, video_id, host_addresses=host_addresses, timeout=args.connect_timeout) as preview:
        print(f"connected: peer {preview.peer_id}", flush=True)

        async def save_all() -> None:
            nonlocal saved
            async for frame in preview.frames():
                saved += 1
                frame.to_image().save(out / f"{saved:05d}.png")
                if saved == 1 or saved % 10 == 0:
                    print(f"{saved} frames ({frame.width}x{frame.height})", flush=True)

        try:
            await asyncio.wait_for(save_all(), args.duration)
        except TimeoutError:
            print("stopped watching (--duration)", flush=True)
    return saved


async def main() -> int:
    p = parser("Watch a video's live preview over WebRTC and save its frames.")
    p.add_argument("--out", default="frames", help="folder for the frames (default ./frames)")
    p.add_argument("--prompt", default="a paper boat drifting on a pond", help="the video to make")
    p.add_argument("--video-id", help="watch this video of mine instead of making one")
    p.add_argument("--seconds", type=int, default=None)
    p.add_argument("--size", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--duration", type=float, default=600.0, help="stop after this many seconds")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--loopback", action="store_true", help="offer 127.0.0.1 as the ICE candidate")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    client = await signed_in(args, "watcher")
    try:
        video_id = args.video_id
        if video_id is None:
            extra = {"steps": args.steps} if args.steps else {}
            video_id = (await client.create_video(args.prompt, seconds=args.seconds, size=args.size, **extra))["id"]
            print(f"made {video_id}", flush=True)
        saved = await watch(client, video_id, out, args)
    finally:
        await client.close()
    print(f"saved {saved} frames in {out}", flush=True)
    return 0 if saved else 1


if __name__ == "__main__":
    run(main)
