"""Remix chains: a post's ``remix_of`` names the post it remixes.

A video made with the Videos API's remix has ``remixed_from_video_id``; when
it is published, the post of that source video (if it has one) becomes the
new post's ``remix_of`` (``feed.publishing.publish`` then bumps the source's
``remixes`` counter and notifies its author). The chain reads both ways:
``children`` (the remixes of a post, newest first) and ``ancestors`` (the
post it remixes, that one's source, … up to the root)."""

from __future__ import annotations

from pymongo import DESCENDING

from core.stores import Stores
from feed.social.posts import Post, _to_post, get_post, post_for_video

MAX_DEPTH = 100  # how far up a chain is followed


async def source_post(stores: Stores, remixed_from_video_id: str | None) -> Post | None:
    """The post of the video a remix was made from, if that video is published."""
    if not remixed_from_video_id:
        return None
    return await post_for_video(stores, remixed_from_video_id)


async def children(stores: Stores, post_id: str, *, before: str | None, limit: int) -> list[Post]:
    """Posts that remix ``post_id``, newest first."""
    query: dict = {"remix_of": post_id}
    if before:
        query["_id"] = {"$lt": before}
    cursor = stores.db["posts"].find(query).sort("_id", DESCENDING).limit(limit)
    return [_to_post(doc) async for doc in cursor]


async def ancestors(stores: Stores, post: Post, *, max_depth: int = MAX_DEPTH) -> list[Post]:
    """The post ``post`` remixes, then its source, … nearest first, up to the
    root; stops at a deleted post (and at a cycle, which publishing cannot make)."""
    out: list[Post] = []
    seen = {post.id}
    current = post
    while current.remix_of and len(out) < max_depth and current.remix_of not in seen:
        parent = await get_post(stores, current.remix_of)
        if parent is None:
            break
        out.append(parent)
        seen.add(parent.id)
        current = parent
    return out
