"""A bot that swipes the ranked feed over the WebSocket and likes what it
watches through (docs/FEED-PROTOCOL.md).

    python clients/examples/swipe_and_like.py http://127.0.0.1:8000 --duration 60

It opens a ``for_you`` session (``--following`` for the people it
follows), and for each item: an ``impression``, a pretend watch of
``--watch-ms`` (reported in the event; the bot does not wait it out), then ``complete`` and a ``like`` for every ``--like-every``th
item (or for captions with ``--like-word`` in them), ``skip`` for the rest.
Each event moves the session on and the server sends the next items. Every
event waits for its acknowledgement, so the bot keeps within the socket's
message limits (docs/WEBSOCKET.md, "Rate limits": a refused event is sent
again after the wait the server names). It stops after ``--duration``
seconds, ``--items`` items, or when the feed has nothing more."""

from __future__ import annotations

import asyncio
import time

from _common import parser, run, signed_in
from fabula_client import FabulaAPIError


def wants(item: dict, index: int, args) -> bool:
    if args.like_word:
        return args.like_word.lower() in (item.get("caption") or "").lower()
    return args.like_every > 0 and index % args.like_every == 0


async def swipe(client, args) -> tuple[int, int]:
    seen = liked = 0
    deadline = time.monotonic() + args.duration
    async with client.socket() as ws:
        session = await ws.open_feed(args.kind, window=3)
        while time.monotonic() < deadline and (not args.items or seen < args.items):
            try:
                page = await session.items(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break  # --duration is up
            if page["exhausted"] and not page["items"]:
                print("the feed has nothing more for now", flush=True)
                break
            for item in page["items"]:
                if args.items and seen >= args.items:
                    break
                seen += 1
                await session.event(item["id"], "impression", ack=True)
                author = (item.get("author") or {}).get("handle", "?")
                if wants(item, seen, args):
                    await session.event(item["id"], "complete", watch_ms=args.watch_ms, ack=True)
                    try:
                        await session.event(item["id"], "like", ack=True)
                        liked += 1
                        print(f"liked {item['id']} by @{author}: {item.get('caption', '')}", flush=True)
                    except FabulaAPIError as exc:
                        print(f"could not like {item['id']}: {exc.code}", flush=True)
                else:
                    await session.event(item["id"], "skip", watch_ms=min(args.watch_ms, 800), ack=True)
                    print(f"skipped {item['id']} by @{author}", flush=True)
        await session.close()
    return seen, liked


async def main() -> int:
    p = parser("Swipe the feed over the WebSocket and like some of it.")
    p.add_argument("--duration", type=float, default=60.0, help="stop after this many seconds (default 60)")
    p.add_argument("--items", type=int, default=0, help="stop after this many items (default: no limit)")
    p.add_argument("--following", dest="kind", action="store_const", const="following", default="for_you")
    p.add_argument("--like-every", type=int, default=2, help="like every Nth item (default 2; 0: none)")
    p.add_argument("--like-word", help="like the items whose caption has this word instead")
    p.add_argument("--watch-ms", type=int, default=4000, help="how long each watched item counts as watched")
    args = p.parse_args()
    client = await signed_in(args, "swiper")
    try:
        seen, liked = await swipe(client, args)
    finally:
        await client.close()
    print(f"done: {seen} items, {liked} liked", flush=True)
    return 0


if __name__ == "__main__":
    run(main)
