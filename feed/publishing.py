"""A post's life: publishing, editing and deleting it, with what follows each.

* ``publish``: the post's text is embedded once (``feed.ranking.embeddings``),
  the post stored (``feed.social.posts``); the source of a remix counts one
  remix more and its author is notified.
* ``update_post``: caption or visibility; the change is told to every api
  process (``feed.social.post_changes``).
* ``delete_post``: the post goes with its likes, comments, shares and
  notifications; the change is told to every process, its counters are
  forgotten and the source of a remix counts one remix fewer. The video
  stays, a draft again, and remixes of it keep their ``remix_of`` (the chain
  ends there).

The modules of the social objects import ``feed.social.posts``; this one
imports them, so none of them imports another back."""

from __future__ import annotations

import logging

import msgspec

from core.clock import utcnow
from core.ids import new_id
from core.stores import Stores
from feed.ranking.embeddings import embed_async, post_text
from feed.social import comments, counters, likes, notifications, post_changes, posts, shares
from feed.social.posts import Post, already_published
from policy.visibility import Visibility

log = logging.getLogger("fabula.feed")

UNSET = msgspec.UNSET


async def publish(
    stores: Stores,
    *,
    author_id: str,
    video_id: str,
    caption: str,
    visibility: Visibility = "public",
    prompt: str = "",
    remix_of: Post | None = None,
    duration_ms: int | None = None,
) -> Post:
    """Publish a video the caller has checked is the author's and completed; once per video.
    ``duration_ms``: the clip's length, which caps a view's watch time.

    ``remix_of`` is the source post (the caller checked the author may see it):
    its ``remixes`` counter moves and its author is notified."""
    if await posts.video_has_post(stores, video_id):
        raise already_published(video_id)  # cheap early answer; the unique index decides races
    embedding: list[float] | None
    try:
        [embedding] = await embed_async([post_text(prompt, caption)])
    except Exception:  # a missing model must not stop publishing; ranking copes without
        log.exception("post embedding failed", extra={"video_id": video_id})
        embedding = None
    post = Post(
        id=new_id("post"),
        author_id=author_id,
        video_id=video_id,
        caption=caption,
        created_at=utcnow(),
        visibility=visibility,
        prompt=prompt,
        embedding=embedding,
        remix_of=remix_of.id if remix_of else None,
        duration_ms=duration_ms,
    )
    await posts.insert_post(stores, post)
    if remix_of is not None:
        await counters.bump(stores, remix_of.id, remixes=1)
        await notifications.notify(stores, recipient_id=remix_of.author_id, actor_id=author_id, kind="remix", post_id=post.id)
    return post


async def update_post(
    stores: Stores,
    post_id: str,
    *,
    author_id: str,
    caption: str | msgspec.UnsetType = UNSET,
    visibility: Visibility | msgspec.UnsetType = UNSET,
) -> Post | None:
    """Change a post's caption or visibility (its author only; None otherwise).
    The embedding stays the one computed at publish."""
    changes: dict = {}
    if caption is not UNSET:
        changes["caption"] = caption
    if visibility is not UNSET:
        changes["visibility"] = visibility
    if not changes:
        found = await posts.get_post(stores, post_id)
        return found if found is not None and found.author_id == author_id else None
    changes["edited_at"] = utcnow()
    post = await posts.set_fields(stores, post_id, author_id, changes)
    if post is None:
        return None
    await post_changes.announce(stores, "updated", post)
    return post


async def delete_post(stores: Stores, post_id: str, *, author_id: str | None = None) -> Post | None:
    """Delete a post (only its author's when ``author_id`` is given) with its
    likes, comments, shares and notifications; the source of a remix counts
    one remix fewer. Returns the deleted post, None when nothing was deleted."""
    post = await posts.remove_post(stores, post_id, author_id=author_id)
    if post is None:
        return None
    await post_changes.announce(stores, "deleted", post)
    await counters.forget(stores, post.id)
    await likes.delete_for_post(stores, post.id)
    await comments.delete_for_post(stores, post.id)
    await shares.delete_for_post(stores, post.id)
    await notifications.delete_for_post(stores, post.id)
    if post.remix_of:
        await counters.bump(stores, post.remix_of, remixes=-1)
    return post


async def delete_for_video(stores: Stores, video_id: str) -> int:
    """Remove the post of ``video_id`` (its video is being deleted) with
    everything hanging off it; returns how many went (0 or 1)."""
    post = await posts.post_for_video(stores, video_id)
    if post is None:
        return 0
    return 1 if await delete_post(stores, post.id) is not None else 0
