"""How a post looks on the wire: ``PostView`` (the post, its author,
counters, the viewer's like, its video's URLs), and ``FeedItem``, a
PostView with its place in a feed session (``index``) and the candidate
source that brought it (``source``) on the WebSocket. One builder makes
both (``post_view``); the reads behind it come two ways:

* ``post_views`` for the routes: authors and counters read as they are now
  (Mongo, Redis);
* ``feed_views`` for the feeds: authors from the runtime's short-lived cache
  (``feed.live.author_cache``), counters from the candidate pool, which the
  live-counts hub keeps current (from Redis for posts outside it); my likes
  are read for every item sent, unless read with the served batch.

(Who may see a post: ``feed.social.visibility``.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import msgspec

from core.clock import unix
from core.stores import Stores
from feed.live.runtime import FeedRuntime
from feed.social import counters, likes
from feed.social.authors import Author, authors
from feed.social.posts import Post


class Counts(msgspec.Struct, kw_only=True):
    likes: int = 0
    comments: int = 0
    views: int = 0
    remixes: int = 0
    shares: int = 0


class PostView(msgspec.Struct, kw_only=True):
    id: str
    object: str = "post"
    author: Author
    video_id: str
    caption: str
    visibility: str = "public"
    remix_of: str | None = None
    counts: Counts = msgspec.field(default_factory=Counts)
    liked: bool = False  # by the viewer
    created_at: int
    edited_at: int | None = None
    content_url: str
    thumbnail_url: str


class FeedItem(PostView, kw_only=True):
    index: int
    source: str


PUBLIC_COUNTS = Counts.__struct_fields__


def counts_view(raw: dict[str, int]) -> Counts:
    """The public counters of a post from its raw counters (``feed.social.counters``)."""
    return Counts(**{name: int(raw.get(name, 0)) for name in PUBLIC_COUNTS})


def post_view(post: Post, author: Author, counts: dict[str, int], liked: bool, place: tuple[int, str] | None = None) -> PostView:
    """The wire view of ``post``; a ``FeedItem`` when ``place`` gives its (index, source)."""
    fields = {
        "id": post.id,
        "author": author,
        "video_id": post.video_id,
        "caption": post.caption,
        "visibility": post.visibility,
        "remix_of": post.remix_of,
        "counts": counts_view(counts),
        "liked": liked,
        "created_at": unix(post.created_at),
        "edited_at": unix(post.edited_at),
        "content_url": f"/v1/posts/{post.id}/content",
        "thumbnail_url": f"/v1/posts/{post.id}/content?variant=thumbnail",
    }
    if place is None:
        return PostView(**fields)
    index, source = place
    return FeedItem(**fields, index=index, source=source)


async def post_views(stores: Stores, posts: list[Post], viewer_id: str | None = None) -> list[PostView]:
    """PostViews of ``posts`` whose author still exists, read as they are now."""
    found = await authors(stores, [p.author_id for p in posts])
    ids = [p.id for p in posts]
    counts = await counters.get_counts(stores, ids)
    liked = await likes.liked_by(stores, viewer_id, ids) if viewer_id else set()
    return [post_view(p, found[p.author_id], counts.get(p.id, {}), p.id in liked) for p in posts if p.author_id in found]


async def feed_views(
    stores: Stores,
    rt: FeedRuntime,
    viewer_id: str,
    posts: list[Post],
    *,
    places: list[tuple[int, str]] | None = None,
    liked: set[str] | None = None,
) -> list[PostView]:
    """PostViews of ``posts`` from the runtime's caches (FeedItems when
    ``places`` gives (index, source) for each). ``liked``: the viewer's likes
    among them, when already read."""
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
        out.append(post_view(p, author, counts.get(p.id, {}), p.id in liked, places[i] if places is not None else None))
    return out


def to_wire(items: list[PostView]) -> list[dict]:
    return [msgspec.to_builtins(item) for item in items]
