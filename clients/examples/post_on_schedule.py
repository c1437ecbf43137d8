"""A bot that makes and posts a video on a schedule.

    python clients/examples/post_on_schedule.py http://127.0.0.1:8000 --every 600

Every ``--every`` seconds it takes the next prompt (``--prompts FILE``, one
a line, or a built-in list), makes the video, waits for it over the
WebSocket, and publishes it with the prompt as its caption. ``--count``
stops it after that many posts. A refused prompt (422), a rate limit
(429), a failed video or one not done within ``--timeout`` (it is
cancelled) is reported and skipped; a request the server refuses as wrong
(a bad ``--size``: 400) or a server that cannot be reached ends the bot,
with one line."""

from __future__ import annotations

import asyncio
import itertools
import time

from _common import parser, run, signed_in
from fabula_client import FabulaAPIError

PROMPTS = [
    "a paper boat drifting on a pond at dawn",
    "a lighthouse in a storm, waves crashing",
    "a cat asleep on a sunny windowsill",
    "neon rain on a city street at night",
    "a hot air balloon over green hills",
]


async def post_once(client, prompt: str, args) -> str | None:
    try:
        video = await client.create_video(prompt, seconds=args.seconds, size=args.size)
    except FabulaAPIError as exc:
        if exc.status == 422:  # this prompt: the next may pass
            print(f"refused: {prompt!r}: {exc.message}", flush=True)
            return None
        if exc.status == 429:
            print(f"rate limited: {exc.message}; skipped {prompt!r}", flush=True)
            return None
        raise  # the bot's own settings or account: every prompt would fail alike
    try:
        done = await client.wait_video(video["id"], timeout=args.timeout)
    except TimeoutError:
        print(f"gave up on {video['id']} after {args.timeout:g} s; cancelling it", flush=True)
        try:
            await client.cancel_video(video["id"])
        except FabulaAPIError as exc:  # it finished meanwhile
            print(f"not cancelled: {exc.code}", flush=True)
        return None
    if done["status"] != "completed":
        print(f"failed: {video['id']}: {(done.get('error') or {}).get('message')}", flush=True)
        return None
    post = await client.publish(video["id"], caption=prompt, visibility=args.visibility)
    print(f"posted {post['id']} ({video['id']}): {prompt}", flush=True)
    return post["id"]


async def main() -> int:
    p = parser("Make and post a video every so often.")
    p.add_argument("--every", type=float, default=600.0, help="seconds between posts (default 600)")
    p.add_argument("--count", type=int, default=0, help="stop after this many posts (default: never)")
    p.add_argument("--prompts", help="a file of prompts, one a line")
    p.add_argument("--seconds", type=int, default=None)
    p.add_argument("--size", default=None, help="WxH (default: the server's)")
    p.add_argument("--visibility", default="public", choices=["public", "followers", "private"])
    p.add_argument("--timeout", type=float, default=900.0, help="give up on one video after this many seconds")
    args = p.parse_args()
    prompts = [line.strip() for line in open(args.prompts) if line.strip()] if args.prompts else PROMPTS
    client = await signed_in(args, "poster")
    posted = 0
    try:
        for prompt in itertools.cycle(prompts):
            started = time.monotonic()
            if await post_once(client, prompt, args):
                posted += 1
            if args.count and posted >= args.count:
                return 0
            await asyncio.sleep(max(0.0, args.every - (time.monotonic() - started)))
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    run(main)
