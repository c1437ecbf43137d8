"""The Videos API over HTTP: create (JSON and multipart), policy refusals,
bad input, ownership, listing, and range requests on the content."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import signup

OVERSIZED = "x" * (300 * 1024)  # the test server's body limit is 256 KiB


async def video_count(http, headers) -> int:
    r = await http.get("/v1/videos", params={"limit": 100}, headers=headers)
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert set(err) == {"code", "message", "details"} and err["message"]
    if code:
        assert err["code"] == code, err
    return err


async def test_create_json_and_multipart(http):
    me = await signup(http)
    r = await http.post("/v1/videos", json={"prompt": "a red fox in snow", "seconds": "1", "size": "64x64", "seed": 7}, headers=me["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "video" and body["status"] == "queued" and body["progress"] == 0
    assert body["id"].startswith("video_") and body["seconds"] == "1" and body["size"] == "64x64" and body["seed"] == 7
    assert r.headers["openai-poll-after-ms"].isdigit()

    r = await http.post("/v1/videos", data={"prompt": "waves at dusk", "seconds": "2", "size": "96x64"}, files={}, headers=me["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["size"] == "96x64" and r.json()["seconds"] == "2"
    # multipart proper (a file part forces multipart/form-data)
    r = await http.post(
        "/v1/videos",
        data={"prompt": "a lighthouse", "seconds": "1"},
        files={"unexpected": ("a.txt", b"hello", "text/plain")},
        headers=me["headers"],
    )
    assert_error(r, 400, "invalid_request")
    assert await video_count(http, me["headers"]) == 2

    r = await http.get(f"/v1/videos/{body['id']}", headers=me["headers"])
    assert r.status_code == 200 and r.json()["id"] == body["id"]


async def test_policy_refusal_names_reason_and_writes_nothing(http):
    me = await signup(http)
    r = await http.post("/v1/videos", json={"prompt": "a naked person dancing"}, headers=me["headers"])
    err = assert_error(r, 422, "prompt_refused")
    assert err["details"]["category"] == "sexual"
    assert await video_count(http, me["headers"]) == 0


BAD_CREATE = [
    ("malformed json", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ("empty body", {"content": b"", "headers": {"content-type": "application/json"}}, 400),
    ("wrong type", {"json": {"prompt": 5}}, 400),
    ("missing prompt", {"json": {"seconds": "1"}}, 400),
    ("unknown field", {"json": {"prompt": "ok", "colour": "red"}}, 400),
    ("bad size", {"json": {"prompt": "ok", "size": "big"}}, 400),
    ("size not /32", {"json": {"prompt": "ok", "size": "65x64"}}, 400),
    ("size too large", {"json": {"prompt": "ok", "size": "4096x4096"}}, 400),
    ("seconds not a number", {"json": {"prompt": "ok", "seconds": "ten"}}, 400),
    ("seconds out of range", {"json": {"prompt": "ok", "seconds": "99"}}, 400),
    ("unknown model", {"json": {"prompt": "ok", "model": "sora-9"}}, 400),
    ("negative seed", {"json": {"prompt": "ok", "seed": -1}}, 400),
    ("json array", {"json": ["prompt"]}, 400),
    ("oversized", {"json": {"prompt": OVERSIZED}}, 413),
    ("wrong content type", {"content": b"prompt=x", "headers": {"content-type": "text/plain"}}, 415),
]


@pytest.mark.parametrize("name,kwargs,status", BAD_CREATE, ids=[c[0] for c in BAD_CREATE])
async def test_create_rejects_bad_input(http, name, kwargs, status):
    me = await signup(http)
    headers = {**me["headers"], **kwargs.pop("headers", {})}
    r = await http.post("/v1/videos", headers=headers, **kwargs)
    assert_error(r, status)
    assert await video_count(http, me["headers"]) == 0


@pytest.mark.parametrize(
    "method,path",
    [("POST", "/v1/videos"), ("GET", "/v1/videos"), ("GET", "/v1/videos/video_x"), ("GET", "/v1/videos/video_x/content")],
)
async def test_videos_need_a_token(http, method, path):
    assert_error(await http.request(method, path, json={"prompt": "x"}), 401)
    assert_error(await http.request(method, path, json={"prompt": "x"}, headers={"Authorization": "Bearer nope"}), 401)


async def test_unknown_and_foreign_videos_are_not_found(http):
    owner, other = await signup(http), await signup(http)
    vid = (await http.post("/v1/videos", json={"prompt": "clouds"}, headers=owner["headers"])).json()["id"]
    for path in (f"/v1/videos/{vid}", f"/v1/videos/{vid}/content", "/v1/videos/video_01unknown/content", "/v1/videos/nope"):
        assert_error(await http.get(path, headers=other["headers"]), 404)
    assert_error(await http.get(f"/v1/videos/{vid}/content", headers=owner["headers"]), 409, "video_not_ready")
    assert_error(await http.get(f"/v1/videos/{vid}/content", params={"variant": "poster"}, headers=owner["headers"]), 400)


async def test_list_pages_with_after_and_has_more(http):
    me = await signup(http)
    ids = [(await http.post("/v1/videos", json={"prompt": f"scene {i}"}, headers=me["headers"])).json()["id"] for i in range(5)]
    seen, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = (await http.get("/v1/videos", params=params, headers=me["headers"])).json()
        seen += [v["id"] for v in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == list(reversed(ids))
    asc = (await http.get("/v1/videos", params={"order": "asc", "limit": 100}, headers=me["headers"])).json()
    assert [v["id"] for v in asc["data"]] == ids
    assert_error(await http.get("/v1/videos", params={"limit": 0}, headers=me["headers"]), 400)
    assert_error(await http.get("/v1/videos", params={"order": "sideways"}, headers=me["headers"]), 400)


async def wait_completed(http, headers, video_id: str, timeout: float = 180) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        body = (await http.get(f"/v1/videos/{video_id}", headers=headers)).json()
        if body["status"] in ("completed", "failed"):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{video_id} did not finish")


async def test_content_answers_ranges(http, worker):
    me = await signup(http)
    vid = (await http.post("/v1/videos", json={"prompt": "a spinning top", "seconds": "1"}, headers=me["headers"])).json()["id"]
    assert (await wait_completed(http, me["headers"], vid))["status"] == "completed"
    whole = await http.get(f"/v1/videos/{vid}/content", headers=me["headers"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    data, size = whole.content, len(whole.content)
    assert int(whole.headers["content-length"]) == size and data[4:8] == b"ftyp"

    part = await http.get(f"/v1/videos/{vid}/content", headers={**me["headers"], "Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == data[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{size}"

    tail = await http.get(f"/v1/videos/{vid}/content", headers={**me["headers"], "Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == data[-16:]
    open_end = await http.get(f"/v1/videos/{vid}/content", headers={**me["headers"], "Range": f"bytes={size - 5}-"})
    assert open_end.status_code == 206 and open_end.content == data[-5:]

    bad = await http.get(f"/v1/videos/{vid}/content", headers={**me["headers"], "Range": f"bytes={size}-"})
    assert_error(bad, 416)
    assert bad.headers["content-range"] == f"bytes */{size}"

    thumb = await http.get(f"/v1/videos/{vid}/content", params={"variant": "thumbnail"}, headers=me["headers"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
