"""Whether a viewer may act on a post now (like it, share it from the swipe
stream), answered from this process's memory where it can be: the candidate
pool's copy of the post and the cached graph around the viewer, both kept
current by the change broadcasts. A post outside the pool is read and
checked as any route checks it (``feed.social.visibility``)."""

from __future__ import annotations

from core.stores import Stores
from feed.ranking.pool import PostPool
from feed.social.posts import Post
from feed.social.visibility import post_not_found, visible_post
from feed.viewer import ViewerGraphs


async def check_visible(stores: Stores, pool: PostPool, graphs: ViewerGraphs, viewer_id: str, post_id: str) -> Post:
    """The post, if the viewer may see it now, else the 404 of an unknown post."""
    post = pool.post(post_id)
    if post is None:
        return await visible_post(stores, post_id, viewer_id)
    viewer = await graphs.viewer(viewer_id)
    if not viewer.may_see(post).allowed:
        raise post_not_found(post_id)
    return post
