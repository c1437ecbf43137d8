"""Creates every package's indexes at start-up (idempotent)."""

from __future__ import annotations

from core.stores import Stores


async def ensure_all(stores: Stores) -> None:
    import accounts.indexes
    import cameos.indexes
    import feed.audit
    import feed.social.comments
    import feed.social.likes
    import feed.social.notifications
    import feed.social.posts
    import feed.social.reports
    import feed.social.shares
    import feed.takedown
    import gen.jobs

    await accounts.indexes.ensure(stores)
    await cameos.indexes.ensure(stores)
    await gen.jobs.ensure_indexes(stores)
    await feed.social.posts.ensure_indexes(stores)
    await feed.social.likes.ensure_indexes(stores)
    await feed.social.comments.ensure_indexes(stores)
    await feed.social.shares.ensure_indexes(stores)
    await feed.social.notifications.ensure_indexes(stores)
    await feed.social.reports.ensure_indexes(stores)
    await feed.audit.ensure_indexes(stores)
    await feed.takedown.ensure_indexes(stores)
