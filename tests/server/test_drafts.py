"""GET /v1/me/drafts reads my completed videos through an index of (owner,
status, creation order: the ids) and at most ``DRAFT_SCAN`` of them per page: a history of
many published videos and many unfinished ones costs a page no more than
that, and the pages still reach every draft, newest first."""

from __future__ import annotations

from datetime import timedelta

from ulid import ULID

from core.clock import utcnow
from core.ids import new_id
from core.mongo_compat import is_nx27017
from feed.social import posts as feed_posts
from gen import jobs
from server.routes.posts import DRAFT_SCAN
from tests.conftest import signup
from tests.accounts.test_auth_routes import assert_error


def video_id_at(when) -> str:
    return "video_" + str(ULID.from_timestamp(when.timestamp())).lower()


async def made(stores, owner: str, n: int, status: str, *, minutes_ago: float) -> list[str]:
    """``n`` videos of ``owner`` with ``status``, the newest ``minutes_ago`` old."""
    base = utcnow() - timedelta(minutes=minutes_ago)
    docs = []
    for i in range(n):
        docs.append({
            "_id": video_id_at(base - timedelta(milliseconds=i)), "owner_id": owner, "prompt": "a kite", "model": "tiny", "width": 64, "height": 64,
            "seconds": 1, "steps": 2, "status": status, "progress": 100 if status == "completed" else 0, "attempts": 0,
            "created_at": base - timedelta(milliseconds=i),
        })
    await stores.db.videos.insert_many(docs)
    return [d["_id"] for d in docs]


async def publish_all(stores, owner: str, video_ids: list[str]) -> None:
    for vid in video_ids:
        await feed_posts.insert_post(
            stores, feed_posts.Post(id=new_id("post"), author_id=owner, video_id=vid, caption="", created_at=utcnow(), visibility="private")
        )


async def drafts_pages(http, me, limit: int) -> list[tuple[list[str], str | None]]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await http.get("/v1/me/drafts", params=params, headers=me["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(([v["id"] for v in body["data"]], body["next_cursor"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "paging does not end"


async def test_drafts_use_the_owner_status_created_index(stores):
    await jobs.ensure_indexes(stores)
    found = await stores.db.videos.index_information()
    # (nx-27017 names its indexes itself, and takes none holding _id)
    keys = [[name for name, _ in index["key"]] for index in found.values()]
    assert ["owner_id", "status", "_id"] in keys or (await is_nx27017(stores) and ["owner_id", "status"] in keys), found


async def test_a_long_history_costs_a_page_a_bounded_read(http, stores):
    me = await signup(http)
    uid = me["user"]["id"]
    newest_draft = await made(stores, uid, 1, "completed", minutes_ago=1)
    published = await made(stores, uid, DRAFT_SCAN + 30, "completed", minutes_ago=2)
    await publish_all(stores, uid, published)
    await made(stores, uid, 300, "failed", minutes_ago=3)  # never read: another status
    await made(stores, uid, 5, "queued", minutes_ago=0)
    old_drafts = await made(stores, uid, 3, "completed", minutes_ago=10)

    pages = await drafts_pages(http, me, limit=2)
    first, first_cursor = pages[0]
    # the first page stops after DRAFT_SCAN completed videos: one draft, and a cursor to go on
    assert first == newest_draft and first_cursor is not None
    assert [vid for ids, _ in pages for vid in ids] == newest_draft + old_drafts
    assert len(pages) <= 4

    for bad in ("post_01abc", "video_not-an-id", "x" * 70):
        assert_error(await http.get("/v1/me/drafts", params={"cursor": bad}, headers=me["headers"]), 400)
