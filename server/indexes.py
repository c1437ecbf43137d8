"""Creates every package's indexes at start-up (idempotent)."""

from __future__ import annotations

from core.stores import Stores


async def ensure_all(stores: Stores) -> None:
    import accounts.indexes
    import feed.comments
    import feed.likes
    import feed.notifications
    import feed.posts
    import feed.shares
    import gen.jobs

    await accounts.indexes.ensure(stores)
    await gen.jobs.ensure_indexes(stores)
    await feed.posts.ensure_indexes(stores)
    await feed.likes.ensure_indexes(stores)
    await feed.comments.ensure_indexes(stores)
    await feed.shares.ensure_indexes(stores)
    await feed.notifications.ensure_indexes(stores)
