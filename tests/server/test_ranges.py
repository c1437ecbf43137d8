"""Range headers on the media routes: numbers of any length get a 416 that
names the problem without repeating the header (server.ranges)."""

from __future__ import annotations

import pytest

from core.errors import RangeNotSatisfiable
from core.media_store import open_media_store
from server.ranges import parse_range
from tests.conftest import signup
from tests.feed.test_social import new_post

HUGE = "9" * 5000  # past Python's 4,300-digit limit on int()
HEADERS = [f"bytes={HUGE}-", f"bytes=0-{HUGE}", f"bytes=-{HUGE}", f"bytes={HUGE}-{HUGE}"]


def assert_error(r, status: int, code: str) -> dict:
    """Status, code and message (the Videos API adds OpenAI's type and param beside them)."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] == code and err["message"], err
    return err


@pytest.mark.parametrize("header", HEADERS)
def test_parse_range_refuses_long_numbers_without_echo(header):
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 1000)
    assert HUGE[:50] not in caught.value.message and "digits" in caught.value.message
    assert caught.value.headers == {"Content-Range": "bytes */1000"}


def test_an_unsatisfiable_range_is_not_echoed():
    header = "bytes=5000-6000"
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 1000)
    assert "5000" not in caught.value.message and "0-999" in caught.value.message


async def test_media_routes_answer_huge_ranges_with_416(http, stores, settings):
    me = await signup(http)
    post = await new_post(http, stores, me, caption="ranges")
    data = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4
    await open_media_store(settings).put_bytes(post["video_id"], "video", data)
    for url in (post["content_url"], f"/v1/videos/{post['video_id']}/content"):
        ok = await http.get(url, headers={**me["headers"], "Range": "bytes=4-11"})
        assert ok.status_code == 206 and ok.content == data[4:12], (url, ok.status_code)
        for header in HEADERS:
            r = await http.get(url, headers={**me["headers"], "Range": header})
            error = assert_error(r, 416, "range_not_satisfiable")
            assert HUGE[:50] not in r.text and "digits" in error["message"], (url, r.text[:300])
            assert r.headers["content-range"] == f"bytes */{len(data)}"
        beyond = await http.get(url, headers={**me["headers"], "Range": f"bytes={len(data) + 7}-"})
        assert_error(beyond, 416, "range_not_satisfiable")
        assert str(len(data) + 7) not in beyond.json()["error"]["message"]
