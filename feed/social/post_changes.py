"""Post changes, told to every api process (``core.broadcast``): an edit
(caption, visibility) or a delete. The candidate pool (``feed.ranking.pool``) keeps
its copy of each post current with them, so the feed serves a post from
memory and never one that was deleted or hidden. The process that changed
the post applies it before the change returns; the others within
milliseconds. A process that misses a message (its subscriber was
reconnecting) catches up when the post leaves the pool."""

from __future__ import annotations

from typing import Literal

import msgspec

from core.broadcast import Broadcast
from core.stores import Stores
from feed.social.posts import Post

Op = Literal["updated", "deleted"]


class PostChange(msgspec.Struct, kw_only=True):
    op: Op
    post: Post  # as it is now (as it was, for a delete), without its embedding


CHANGES: Broadcast[PostChange] = Broadcast("posts", PostChange)


async def announce(stores: Stores, op: Op, post: Post) -> None:
    await CHANGES.announce(stores, PostChange(op=op, post=msgspec.structs.replace(post, embedding=None)))
