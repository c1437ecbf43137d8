"""Deleting an account: every package's part, in an order that can be run
again if it stops half-way (the user document goes last, so the owner can
sign in and ask again).

1. Every token is revoked: the account's WebSockets close (4401) and no
   request of theirs starts after this one.
2. Their videos, as ``DELETE /v1/videos/{id}`` deletes one: an unfinished job
   cancelled, its post, media, previews, events and cameo appearances, the
   job document.
3. Their cameos (``cameos.deletion.delete_account_cameos``: the likeness,
   its media, grants, appearances and review entries).
4. The feed (``feed.erasure``): their posts with everything hanging off them,
   their likes, comments and shares of others' posts, the notifications they
   received or caused, their feed state in Redis.
5. The graph (``accounts.erasure``): follows and blocks both ways, with the
   other users' counters and caches.
6. What gen kept about them (dead letters), the user document, and a final
   sweep of every Redis key in the namespace named after the user, one of
   their videos or one of their cameos (taste, rate-limit buckets, cameo
   challenges, caches)."""

from __future__ import annotations

import logging

from accounts import erasure as account_erasure
from accounts import tokens
from accounts.users import User
from cameos import appearances
from cameos import store as cameo_store
from cameos.deletion import delete_account_cameos
from core.settings import Settings
from core.stores import Stores
from feed import erasure as feed_erasure
from feed import publishing, takedown
from feed.social import reports
from gen import erasure as gen_erasure
from gen import jobs
from gen.cancel import cancel_job
from server.media import guarded, media_store

log = logging.getLogger("fabula.accounts")

PAGE = 100


async def _delete_videos(stores: Stores, settings: Settings, user_id: str) -> list[str]:
    media, deleted = media_store(settings), []
    while page := await jobs.list_jobs(stores, user_id, after=None, limit=PAGE):
        for job in page:
            if not job.done:
                await cancel_job(stores, job.id, reason="deleted")
            await publishing.delete_for_video(stores, job.id)
            await guarded("delete", media.delete(job.id))
            await appearances.remove_video(stores, job.id)
            await gen_erasure.forget_video(stores, job.id)
            await jobs.delete_job(stores, job.id)
            deleted.append(job.id)
    return deleted


async def _sweep(stores: Stores, names: set[str]) -> int:
    """Delete every key of the namespace whose name holds one of ``names``."""
    swept = 0
    async for key in stores.redis.scan_iter(match=stores.settings.namespace + ":*", count=1000):
        text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        if any(name in text for name in names):
            swept += await stores.redis.delete(key)
    return swept


async def delete_account(stores: Stores, settings: Settings, user: User) -> None:
    """Erase ``user`` and everything of theirs (see the module docstring)."""
    await tokens.revoke_all(stores, user.id)
    videos = await _delete_videos(stores, settings, user.id)
    cameo_ids = [c.id for c in await cameo_store.list_owned(stores, user.id)]
    await delete_account_cameos(stores, media_store(settings), user.id)
    await feed_erasure.erase_user(stores, user.id)
    await reports.delete_by_reporter(stores, user.id)
    await takedown.delete_for_author(stores, user.id)
    await account_erasure.erase_graph(stores, user.id)
    await gen_erasure.forget_owner(stores, user.id)
    await account_erasure.delete_user(stores, user.id)
    swept = await _sweep(stores, {user.id, *videos, *cameo_ids})
    log.info("account deleted", extra={"user_id": user.id, "videos": len(videos), "cameos": len(cameo_ids), "keys": swept})
