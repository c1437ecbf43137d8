"""Feed items on the wire: a post as ``server.post_views.PostView`` shows it
(author, counts, my like, URLs), plus its place in the session (``index``) and
the candidate source that brought it (``source``) on the WebSocket.

Authors come from the runtime's short-lived cache (``feed.live.author_cache``);
counters from the candidate pool, which the live-counts hub keeps current
(from Redis for posts outside it); my likes are read for every item sent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import msgspec

from core.clock import unix
from core.stores import Stores
from feed.live.runtime import FeedRuntime
from feed.social import counters, likes
from feed.social.posts import Post
from server.post_views import Counts, PostView

PUBLIC_COUNTS = Counts.__struct_fields__


class FeedItem(PostView, kw_only=True):
    index: int
    source: str


def public_counts(raw: dict[str, int]) -> Counts:
    return Counts(**{name: int(raw.get(name, 0)) for name in PUBLIC_COUNTS})


async def views(
    stores: Stores,
    rt: FeedRuntime,
    viewer_id: str,
    posts: list[Post],
    *,
    places: list[tuple[int, str]] | None = None,
    liked: set[str] | None = None,
) -> list[PostView]:
    """PostViews of ``posts`` (FeedItems when ``places`` gives (index, source)
    for each). ``liked``: the viewer's likes among them, when already read."""
    if not posts:
        return []
    ids = [p.id for p in posts]
    counts = {pid: c for pid in ids if (c := rt.pool.counts_of(pid)) is not None}
    missing = [pid for pid in ids if pid not in counts]
    # Usually nothing here needs a read (cached authors, pool counters, likes
    # read with the served batch); gathering anyway would make a task per part
    # and cost the page a trip round the event loop, so only reads run together.
    author_ids = [p.author_id for p in posts]
    found = rt.authors.cached(author_ids)
    reads: dict[str, Awaitable] = {}
    if found is None:
        reads["authors"] = rt.authors.get(author_ids)
    if missing:
        reads["counts"] = counters.get_counts(stores, missing)
    if liked is None:
        reads["liked"] = likes.liked_by(stores, viewer_id, ids)
    if len(reads) > 1:
        done = dict(zip(reads, await asyncio.gather(*reads.values())))
    else:
        done = {name: await read for name, read in reads.items()}
    found = done.get("authors", found)
    counts.update(done.get("counts", {}))
    liked = done.get("liked", liked)
    out: list[PostView] = []
    for i, p in enumerate(posts):
        author = found.get(p.author_id)
        if author is None:
            continue
        fields = {
            "id": p.id,
            "author": author,
            "video_id": p.video_id,
            "caption": p.caption,
            "visibility": p.visibility,
            "remix_of": p.remix_of,
            "counts": public_counts(counts.get(p.id, {})),
            "liked": p.id in liked,
            "created_at": unix(p.created_at),
            "edited_at": unix(p.edited_at),
            "content_url": f"/v1/posts/{p.id}/content",
            "thumbnail_url": f"/v1/posts/{p.id}/content?variant=thumbnail",
        }
        if places is None:
            out.append(PostView(**fields))
        else:
            index, source = places[i]
            out.append(FeedItem(**fields, index=index, source=source))
    return out


def to_wire(items: list[PostView]) -> list[dict]:
    return [msgspec.to_builtins(item) for item in items]
