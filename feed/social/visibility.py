"""Who may see a post, read from the follow/block graph (``accounts``) and
decided by the visibility rule (``feed.viewer.Viewer.may_see``, on the
edges read for it): the check of every route that shows or acts on a post,
and of the following feed.

An unknown post and one the viewer may not see answer the same 404, so a
private post or a block reveals nothing; so do comments (``visible_comment``).
(The api's swipe stream gates its picks against the graph it caches per
process instead: ``feed.live``.)"""

from __future__ import annotations

from accounts.graph import blocked_among, is_blocked_between, is_following
from core.errors import NotFound
from core.stores import Stores
from feed.social import comments
from feed.social.comments import Comment
from feed.social.posts import Post, get_post
from feed.viewer import Viewer
from policy.decision import Decision


async def view_decision(stores: Stores, post: Post, viewer_id: str) -> Decision:
    if viewer_id == post.author_id:
        return Decision.allow()
    blocked = await is_blocked_between(stores, post.author_id, viewer_id)
    follows = post.visibility == "followers" and not blocked and await is_following(stores, viewer_id, post.author_id)
    edges = Viewer(user_id=viewer_id, following={post.author_id} if follows else set(), blocked={post.author_id} if blocked else set())
    return edges.may_see(post)


def post_not_found(post_id: str) -> NotFound:
    return NotFound(f"no post {post_id!r}", code="post_not_found")


async def visible_post(stores: Stores, post_id: str, viewer_id: str) -> Post:
    """The post, if ``viewer_id`` may see it; otherwise the same 404 as for an
    unknown post (a private post or a block reveals nothing)."""
    found = await get_post(stores, post_id)
    if found is None or not (await view_decision(stores, found, viewer_id)).allowed:
        raise post_not_found(post_id)
    return found


async def visible_posts(stores: Stores, posts: list[Post], viewer_id: str) -> list[Post]:
    """The posts of ``posts`` that ``viewer_id`` may see, in order."""
    others = list({p.author_id for p in posts if p.author_id != viewer_id})
    blocked = await blocked_among(stores, viewer_id, others)
    followed: set[str] = set()
    for author_id in {p.author_id for p in posts if p.visibility == "followers" and p.author_id in others and p.author_id not in blocked}:
        if await is_following(stores, viewer_id, author_id):
            followed.add(author_id)
    edges = Viewer(user_id=viewer_id, following=followed, blocked=set(blocked))
    return [p for p in posts if edges.may_see(p).allowed]


async def visible_comment(stores: Stores, comment_id: str, viewer_id: str, *, live: bool = True) -> Comment:
    """The comment, if ``viewer_id`` may see it: its post, the
    comment's author and, for a reply, the author of the comment its thread
    hangs under (a thread under the comment of someone across a block is hidden
    with it, as the comment lists hide it). Otherwise the same 404 as for an
    unknown comment. A deleted comment kept for its replies has no author to
    hide; ``live`` refuses it as well."""
    missing = comments.comment_not_found(comment_id)
    found = await comments.get_comment(stores, comment_id)
    if found is None or (live and found.deleted):
        raise missing
    try:
        await visible_post(stores, found.post_id, viewer_id)
    except NotFound:
        raise missing from None
    shown = [found]
    if found.parent_id:
        parent = await comments.get_comment(stores, found.parent_id)
        if parent is None:
            raise missing
        shown.append(parent)
    others = [c.author_id for c in shown if not c.deleted and c.author_id and c.author_id != viewer_id]
    if others and await blocked_among(stores, viewer_id, others):
        raise missing
    return found
