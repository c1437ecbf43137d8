"""A media store that fails (not one that lacks the file) is a backing service
down: every route that streams media answers 503 ``media_unavailable``, the
post's content as the video's, never a 500."""

from __future__ import annotations

import pytest

from core.media_store import LocalMediaStore, open_media_store
from tests.conftest import signup
from tests.feed.test_social import new_post

CLIP = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8
THUMB = b"\xff\xd8\xff\xe0" + bytes(64)


def unavailable(r) -> dict:
    """503 ``media_unavailable`` in the error body (the Videos API adds OpenAI's ``type`` and ``param``)."""
    assert r.status_code == 503, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] == "media_unavailable" and err["message"] and "details" in err, err
    return err


async def test_a_failing_store_answers_503_media_unavailable_on_each_content_route(http, stores, settings):
    store = open_media_store(settings)
    if not isinstance(store, LocalMediaStore):
        pytest.skip("breaks the files of the local media store")
    me = await signup(http)
    post = await new_post(http, stores, me, caption="fragile media")
    video_id = post["video_id"]
    await store.put_bytes(video_id, "video", CLIP)
    await store.put_bytes(video_id, "thumbnail", THUMB)
    routes = [
        (post["content_url"], CLIP),
        (f"/v1/posts/{post['id']}/content?variant=thumbnail", THUMB),
        (f"/v1/videos/{video_id}/content", CLIP),  # the route that already did so, for comparison
    ]
    for url, data in routes:
        ok = await http.get(url, headers=me["headers"])
        assert ok.status_code == 200 and ok.content == data, (url, ok.status_code, ok.text[:200])

    # each stored file becomes a link to itself: reading it fails (ELOOP), it is not missing
    for variant in ("video", "thumbnail"):
        path = store.path(video_id, variant)
        path.unlink()
        path.symlink_to(path.name)
    try:
        for url, _ in routes:
            r = await http.get(url, headers=me["headers"])
            err = unavailable(r)
            assert str(settings.media_root) not in err["message"], err  # no server path in the answer
    finally:
        for variant in ("video", "thumbnail"):
            store.path(video_id, variant).unlink()

    # the store works again: so do the routes
    await store.put_bytes(video_id, "video", CLIP)
    await store.put_bytes(video_id, "thumbnail", THUMB)
    for url, data in routes:
        ok = await http.get(url, headers=me["headers"])
        assert ok.status_code == 200 and ok.content == data, (url, ok.status_code)
