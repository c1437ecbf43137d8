"""The Videos API over HTTP: create (JSON and multipart, with a reference
image), policy refusals, bad input, sizes, ownership, listing, range
requests on the content and its spritesheet, the latest preview, delete,
remix, extensions, and edits (unsupported)."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image

from gen import jobs, previews
from core.media_store import LocalMediaStore
from tests.conftest import signup
from tests.feed.test_social import ready_video

OVERSIZED = "x" * (300 * 1024)  # the test server's body limit is 256 KiB


async def video_count(http, headers) -> int:
    r = await http.get("/v1/videos", params={"limit": 100}, headers=headers)
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    # the service's shape; on the Videos API with OpenAI's type and param too (server.openai_errors)
    openai_shape = {"type", "param"} if r.request.url.path.startswith("/v1/videos") else set()
    assert set(err) == {"code", "message", "details"} | openai_shape and err["message"]
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


async def test_a_video_without_a_seed_reports_the_one_it_is_made_with(http, stores):
    me = await signup(http)
    r = await http.post("/v1/videos", json={"prompt": "a grey fox in snow", "seconds": "1", "size": "64x64"}, headers=me["headers"])
    unseeded = r.json()
    assert isinstance(unseeded["seed"], int) and 0 <= unseeded["seed"] < 2**32, unseeded
    assert (await http.get(f"/v1/videos/{unseeded['id']}", headers=me["headers"])).json()["seed"] == unseeded["seed"]
    assert unseeded["seed"] == jobs.job_seed(await jobs.get_job(stores, unseeded["id"]))  # what the worker renders with
    await http.delete(f"/v1/videos/{unseeded['id']}", headers=me["headers"])


async def test_policy_refusal_names_reason_and_writes_nothing(http):
    me = await signup(http)
    r = await http.post("/v1/videos", json={"prompt": "a naked person dancing"}, headers=me["headers"])
    err = assert_error(r, 422, "moderation_blocked")
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
    ("seed over 32 bits", {"json": {"prompt": "ok", "seed": 2**32}}, 400),
    ("no steps", {"json": {"prompt": "ok", "steps": 0}}, 400),
    ("too many steps", {"json": {"prompt": "ok", "steps": 101}}, 400),
    ("seconds with a fraction", {"json": {"prompt": "ok", "seconds": 1.5}}, 400),
    ("seconds true", {"json": {"prompt": "ok", "seconds": True}}, 400),
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


# --- sizes ----------------------------------------------------------------------


@pytest.mark.parametrize("size", ["720x1280", "1280x720", "1024x1792", "1792x1024"])
async def test_openai_sizes_are_made_at_the_served_resolution_and_reported_as_asked(http, size):
    # the served tiny preset makes sides up to 256 here: the frames are made
    # at its own resolution in that shape, and the file delivered at the size asked for
    me = await signup(http)
    r = await http.post("/v1/videos", data={"prompt": "a tall ship", "size": size, "model": "sora-2"}, files={}, headers=me["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["size"], body["model"], body["preset"]) == (size, "sora-2", "tiny")
    made_w, made_h = (int(v) for v in body["generated_size"].split("x"))
    asked_w, asked_h = (int(v) for v in size.split("x"))
    assert made_w % 32 == 0 and made_h % 32 == 0 and max(made_w, made_h) <= 256
    assert abs(made_w / made_h - asked_w / asked_h) < 0.5 * asked_w / asked_h
    await http.delete(f"/v1/videos/{body['id']}", headers=me["headers"])


async def test_an_empty_size_is_refused_not_read_as_the_default(http):
    """Left out, ``size`` is the installation's default; given empty, it is a
    mistake (as an empty ``seconds`` is), in JSON and in a form."""
    me = await signup(http)
    for r in (
        await http.post("/v1/videos", json={"prompt": "a tall ship", "size": ""}, headers=me["headers"]),
        await http.post("/v1/videos", data={"prompt": "a tall ship", "size": ""}, files={}, headers=me["headers"]),
    ):
        err = assert_error(r, 400, "invalid_size")
        assert err["param"] == "size" and "64x64" in err["details"]["sizes"]
    assert await video_count(http, me["headers"]) == 0


async def test_other_sizes_beyond_the_served_model_list_the_sizes_it_makes(http):
    me = await signup(http)
    r = await http.post("/v1/videos", data={"prompt": "a tall ship", "size": "288x256"}, files={}, headers=me["headers"])
    err = assert_error(r, 400, "invalid_size")
    assert err["param"] == "size"
    sizes = err["details"]["sizes"]
    assert "64x64" in sizes and "256x256" in sizes and "720x1280" in sizes and "288x256" not in sizes
    assert err["details"]["max_side"] == 256 and err["details"]["multiple"] == 32
    assert "64x64" in err["message"]
    assert await video_count(http, me["headers"]) == 0


# --- reference images ---------------------------------------------------------------


def image_bytes(fmt: str, size=(48, 40), color=(200, 30, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


async def test_input_reference_upload_is_checked_normalised_and_stored(http, settings):
    me = await signup(http)
    media = LocalMediaStore(settings.media_root)
    for fmt, ctype in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        r = await http.post(
            "/v1/videos",
            data={"prompt": "a red door", "seconds": "1", "size": "64x64"},
            files={"input_reference": (f"ref.{fmt.lower()}", image_bytes(fmt), ctype)},
            headers=me["headers"],
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reference"] is True and body["status"] == "queued"
        stored = media.path(body["id"], "reference").read_bytes()
        with Image.open(io.BytesIO(stored)) as img:
            assert img.format == "PNG" and img.size == (48, 40) and img.mode == "RGB"
            assert img.getpixel((5, 5))[0] > 150
        r = await http.delete(f"/v1/videos/{body['id']}", headers=me["headers"])  # keep the worker free
        assert r.status_code == 200 and not media.path(body["id"], "reference").exists()

    # JSON with a data: URL does the same
    url = "data:image/png;base64," + base64.b64encode(image_bytes("PNG")).decode()
    r = await http.post("/v1/videos", json={"prompt": "a blue door", "input_reference": {"image_url": url}}, headers=me["headers"])
    assert r.status_code == 200 and r.json()["reference"] is True, r.text
    assert media.path(r.json()["id"], "reference").is_file()
    await http.delete(f"/v1/videos/{r.json()['id']}", headers=me["headers"])


async def test_a_urlencoded_form_is_read_as_the_multipart_one(http, settings):
    """The documented third content type of create (and remix, extend): the
    fields of the multipart form without files, nested ones in brackets."""
    me = await signup(http)
    url = "data:image/png;base64," + base64.b64encode(image_bytes("PNG")).decode()
    form = {"prompt": "a green door", "seconds": "2", "size": "96x64", "input_reference[image_url]": url}
    r = await http.post("/v1/videos", data=form, headers=me["headers"])
    assert r.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["size"], body["seconds"], body["reference"]) == ("96x64", "2", True)
    assert LocalMediaStore(settings.media_root).path(body["id"], "reference").is_file()
    assert_error(await http.post("/v1/videos", data={**form, "colour": "red"}, headers=me["headers"]), 400, "invalid_request")
    r = await http.post("/v1/videos", content=b"prompt=x", headers={**me["headers"], "content-type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")
    assert "application/x-www-form-urlencoded" in r.json()["error"]["message"]
    await http.delete(f"/v1/videos/{body['id']}", headers=me["headers"])


GIF = image_bytes("GIF")
BAD_REFERENCES = [
    ("text file", {"files": {"input_reference": ("a.txt", b"hello there", "text/plain")}}, 400, "invalid_reference"),
    ("png name, not a png", {"files": {"input_reference": ("a.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")}}, 400, "invalid_reference"),
    ("truncated jpeg", {"files": {"input_reference": ("a.jpg", image_bytes("JPEG", (200, 200))[:300], "image/jpeg")}}, 400, "invalid_reference"),
    ("gif", {"files": {"input_reference": ("a.gif", GIF, "image/gif")}}, 400, "invalid_reference"),
    ("empty file", {"files": {"input_reference": ("a.png", b"", "image/png")}}, 400, "invalid_reference"),
    ("tiny image", {"files": {"input_reference": ("a.png", image_bytes("PNG", (4, 4)), "image/png")}}, 400, "invalid_reference"),
    ("two files", {"files": [("input_reference", ("a.png", image_bytes("PNG"), "image/png")), ("input_reference", ("b.png", image_bytes("PNG"), "image/png"))]}, 400, "invalid_request"),
    ("reference as text field", {"data": {"input_reference": "abc"}, "files": {"x": ("x", b"", "text/plain")}}, 400, "invalid_request"),
    ("json url", {"json": {"input_reference": {"image_url": "https://example.com/a.png"}}}, 400, "unsupported"),
    ("json file id", {"json": {"input_reference": {"file_id": "file_123"}}}, 400, "unsupported"),
    ("json bad base64", {"json": {"input_reference": {"image_url": "data:image/png;base64,@@@"}}}, 400, "invalid_reference"),
    ("json not an image", {"json": {"input_reference": {"image_url": "data:text/plain;base64," + base64.b64encode(b"hi").decode()}}}, 400, "invalid_reference"),
    ("json unknown key", {"json": {"input_reference": {"url": "x"}}}, 400, "invalid_request"),
]


@pytest.mark.parametrize("name,kwargs,status,code", BAD_REFERENCES, ids=[c[0] for c in BAD_REFERENCES])
async def test_bad_references_get_4xx_and_write_nothing(http, settings, name, kwargs, status, code):
    me = await signup(http)
    kwargs = dict(kwargs)
    if "json" in kwargs:
        kwargs["json"] = {"prompt": "a door", **kwargs["json"]}
    else:
        kwargs["data"] = {"prompt": "a door", **kwargs.get("data", {})}
    r = await http.post("/v1/videos", headers=me["headers"], **kwargs)
    err = assert_error(r, status, code)
    if code in ("invalid_reference", "unsupported"):
        assert err["param"] == "input_reference", err  # the field at fault, for the OpenAI SDK
        assert code != "unsupported" or err["details"] == {"field": "input_reference"}, err
    assert await video_count(http, me["headers"]) == 0


async def test_reference_over_the_upload_limit_is_413(http, settings):
    me = await signup(http)
    big = b"\x89PNG\r\n\x1a\n" + bytes(settings.max_upload_bytes)
    r = await http.post("/v1/videos", data={"prompt": "a door"}, files={"input_reference": ("a.png", big, "image/png")}, headers=me["headers"])
    err = assert_error(r, 413, "upload_too_large")
    assert err["details"] == {"limit": settings.max_upload_bytes, "field": "input_reference"} and err["param"] == "input_reference", err
    assert await video_count(http, me["headers"]) == 0


# --- previews over HTTP -------------------------------------------------------------


async def test_latest_preview_over_http(http, stores):
    me, other = await signup(http), await signup(http)
    job = await jobs.create_job(stores, owner_id=me["user"]["id"], prompt="a comet", model="tiny", width=64, height=64, seconds=1, steps=4)
    assert_error(await http.get(f"/v1/videos/{job.id}/preview", headers=me["headers"]), 404, "preview_not_found")
    for step in (1, 2, 3):
        await previews.publish(stores, previews.Preview(video_id=job.id, step=step, steps=4, progress=step * 25, image=image_bytes("JPEG", color=(step * 60, 0, 0))))
    r = await http.get(f"/v1/videos/{job.id}/preview", headers=me["headers"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-preview-step"] == "3" and r.headers["x-preview-steps"] == "4"
    assert r.headers["openai-poll-after-ms"].isdigit() and r.headers["cache-control"] == "no-store"
    assert Image.open(io.BytesIO(r.content)).getpixel((1, 1))[0] > 150
    assert_error(await http.get(f"/v1/videos/{job.id}/preview", headers=other["headers"]), 404, "video_not_found")
    assert_error(await http.get(f"/v1/videos/{job.id}/preview"), 401)


# --- edits ----------------------------------------------------------------------------


async def test_edits_are_unsupported(http):
    me = await signup(http)
    r = await http.post("/v1/videos/edits", data={"prompt": "make it blue"}, files={"video": ("v.mp4", b"xx", "video/mp4")}, headers=me["headers"])
    err = assert_error(r, 400, "unsupported")
    assert "remix" in err["message"] and "extensions" in err["message"]
    assert_error(await http.post("/v1/videos/edits", json={"prompt": "x"}), 401)
    assert await video_count(http, me["headers"]) == 0


# --- delete, remix, extend, spritesheet (one finished video) --------------------------


async def test_delete_a_queued_video_cancels_it(http, stores, settings):
    me, other = await signup(http), await signup(http)
    job = await jobs.create_job(stores, owner_id=me["user"]["id"], prompt="a kite", model="tiny", width=64, height=64, seconds=1, steps=4)
    await previews.publish(stores, previews.Preview(video_id=job.id, step=1, steps=4, progress=25, image=b"jpeg"))
    assert_error(await http.delete(f"/v1/videos/{job.id}", headers=other["headers"]), 404, "video_not_found")
    assert_error(await http.delete(f"/v1/videos/{job.id}"), 401)
    r = await http.delete(f"/v1/videos/{job.id}", headers=me["headers"])
    assert r.status_code == 200 and r.json() == {"id": job.id, "deleted": True, "object": "video.deleted"}
    assert await jobs.get_job(stores, job.id) is None
    assert await previews.latest(stores, job.id) is None
    assert_error(await http.get(f"/v1/videos/{job.id}", headers=me["headers"]), 404)
    assert_error(await http.delete(f"/v1/videos/{job.id}", headers=me["headers"]), 404)


@pytest.fixture(scope="module")
async def finished(api, worker):
    """One user's completed video, published as a post."""
    import httpx

    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        me = await signup(http)
        r = await http.post("/v1/videos", json={"prompt": "a spinning top on a table", "seconds": "1", "size": "64x64", "steps": 2, "seed": 11}, headers=me["headers"])
        assert r.status_code == 200, r.text
        video = await wait_completed(http, me["headers"], r.json()["id"])
        assert video["status"] == "completed", video
        post = await http.post("/v1/posts", json={"video_id": video["id"]}, headers=me["headers"])
        assert post.status_code == 201, post.text
        return {"user": me, "video": video, "post": post.json()}


async def test_spritesheet_is_made_on_first_request(http, finished, settings):
    me, vid = finished["user"], finished["video"]["id"]
    media = LocalMediaStore(settings.media_root)
    r = await http.get(f"/v1/videos/{vid}/content", params={"variant": "spritesheet"}, headers=me["headers"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
    with Image.open(io.BytesIO(r.content)) as sheet:
        assert sheet.format == "JPEG" and sheet.size == (192, 192)  # 9 frames of 64x64: a 3x3 grid
    assert media.path(vid, "spritesheet").read_bytes() == r.content  # cached in the media store
    again = await http.get(f"/v1/videos/{vid}/content", params={"variant": "spritesheet"}, headers={**me["headers"], "Range": "bytes=0-9"})
    assert again.status_code == 206 and again.content == r.content[:10]


async def test_remix_makes_a_new_video_from_a_completed_one(http, stores, finished):
    me, src = finished["user"], finished["video"]
    other = await signup(http)
    r = await http.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "the same top, but red"}, headers=me["headers"])
    assert r.status_code == 200, r.text
    remix = r.json()
    assert remix["id"] != src["id"] and remix["status"] == "queued" and remix["remixed_from_video_id"] == src["id"]
    assert (remix["size"], remix["seconds"], remix["model"], remix["seed"], remix["steps"]) == (src["size"], src["seconds"], src["model"], 11, 2)
    assert remix["prompt"] == "the same top, but red" and r.headers["openai-poll-after-ms"].isdigit()
    await http.delete(f"/v1/videos/{remix['id']}", headers=me["headers"])

    before = await video_count(http, me["headers"])
    assert_error(await http.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "a naked dancer"}, headers=me["headers"]), 422, "moderation_blocked")
    assert_error(await http.post(f"/v1/videos/{src['id']}/remix", json={"prompt": ""}, headers=me["headers"]), 400)
    assert_error(await http.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "x", "size": "64x64"}, headers=me["headers"]), 400)
    assert_error(await http.post(f"/v1/videos/{src['id']}/remix", content=b"{oops", headers={**me["headers"], "content-type": "application/json"}), 400)
    draft = await ready_video(stores, me)  # completed, never published: another's remix finds nothing
    assert_error(await http.post(f"/v1/videos/{draft}/remix", json={"prompt": "mine now"}, headers=other["headers"]), 404, "video_not_found")
    await jobs.delete_job(stores, draft)
    assert_error(await http.post("/v1/videos/video_nope/remix", json={"prompt": "x"}, headers=me["headers"]), 404)
    queued = await jobs.create_job(stores, owner_id=me["user"]["id"], prompt="not yet", model="tiny", width=64, height=64, seconds=1, steps=2)
    assert_error(await http.post(f"/v1/videos/{queued.id}/remix", json={"prompt": "x"}, headers=me["headers"]), 409, "video_not_ready")
    await jobs.delete_job(stores, queued.id)
    assert await video_count(http, me["headers"]) == before


async def test_anyone_who_sees_a_post_may_remix_its_video(http, finished):
    """A remix of someone else's published video: the same composition, the
    source named when it is published, its author told; a hidden source is
    404 as an unknown one."""
    author, src, post = finished["user"], finished["video"], finished["post"]
    fan, stranger = await signup(http), await signup(http)
    r = await http.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "the same top, spinning in the rain"}, headers=fan["headers"])
    assert r.status_code == 200, r.text
    remix = r.json()
    assert remix["remixed_from_video_id"] == src["id"], remix
    assert (remix["size"], remix["seconds"], remix["model"], remix["seed"]) == (src["size"], src["seconds"], src["model"], 11)
    done = await wait_completed(http, fan["headers"], remix["id"])
    assert done["status"] == "completed", done
    published = await http.post("/v1/posts", json={"video_id": remix["id"]}, headers=fan["headers"])
    assert published.status_code == 201 and published.json()["remix_of"] == post["id"], published.text
    notes = (await http.get("/v1/notifications", headers=author["headers"])).json()["data"]
    assert [(n["kind"], n["actor"]["handle"], n["post_id"]) for n in notes if n["kind"] == "remix"] == [
        ("remix", fan["user"]["handle"], published.json()["id"])
    ], notes
    chain = (await http.get(f"/v1/posts/{post['id']}/remixes", headers=stranger["headers"])).json()
    assert published.json()["id"] in [p["id"] for p in chain["data"]], chain
    # the source's author blocks the stranger: the video is hidden from them, as if it did not exist
    assert (await http.post(f"/v1/users/{stranger['user']['handle']}/block", headers=author["headers"])).status_code == 200
    assert_error(await http.post(f"/v1/videos/{src['id']}/remix", json={"prompt": "x"}, headers=stranger["headers"]), 404, "video_not_found")
    await http.delete(f"/v1/users/{stranger['user']['handle']}/block", headers=author["headers"])
    await http.delete(f"/v1/posts/{published.json()['id']}", headers=fan["headers"])


async def test_extend_a_completed_video_by_id_or_by_upload(http, settings, finished):
    me, src = finished["user"], finished["video"]
    media = LocalMediaStore(settings.media_root)
    made = []
    # JSON, as the REST API documents it
    r = await http.post("/v1/videos/extensions", json={"prompt": "the top falls over", "seconds": "2", "video": {"id": src["id"]}}, headers=me["headers"])
    assert r.status_code == 200, r.text
    ext = r.json()
    made.append(ext["id"])
    assert ext["extend_of"] == src["id"] and ext["reference"] is True and ext["seconds"] == "2" and ext["size"] == src["size"]
    assert r.headers["openai-poll-after-ms"].isdigit()
    with Image.open(media.path(ext["id"], "reference")) as ref:  # the source's last frame
        assert ref.format == "PNG" and ref.size == (64, 64)
    # a form with video[id] (how the SDK flattens objects into forms)
    r = await http.post("/v1/videos/extensions", data={"prompt": "and rolls away", "seconds": "1", "video[id]": src["id"]}, files={}, headers=me["headers"])
    assert r.status_code == 200 and r.json()["extend_of"] == src["id"], r.text
    made.append(r.json()["id"])
    # a video file, as the OpenAI SDK sends it
    mp4 = (await http.get(f"/v1/videos/{src['id']}/content", headers=me["headers"])).content
    r = await http.post("/v1/videos/extensions", data={"prompt": "then stops", "seconds": "1"}, files={"video": ("clip.mp4", mp4, "video/mp4")}, headers=me["headers"])
    assert r.status_code == 200, r.text
    up = r.json()
    made.append(up["id"])
    assert up["extend_of"] is None and up["reference"] is True and up["size"] == "64x64"
    assert media.path(up["id"], "reference").is_file()
    for vid in made:
        assert (await http.delete(f"/v1/videos/{vid}", headers=me["headers"])).status_code == 200

    other = await signup(http)
    before = await video_count(http, me["headers"])
    bad = [
        ({"json": {"prompt": "x", "seconds": "1"}}, 400, "invalid_request"),  # no video
        ({"data": {"prompt": "x", "video[id]": src["id"]}, "files": {"video": ("v.mp4", mp4, "video/mp4")}}, 400, "invalid_request"),  # both
        ({"json": {"prompt": "x", "video": {"id": src["id"]}, "seconds": "99"}}, 400, "invalid_seconds"),
        ({"json": {"prompt": "x", "video": {"id": src["id"]}, "colour": 1}}, 400, "invalid_request"),
        ({"json": {"prompt": "a naked dancer", "video": {"id": src["id"]}}}, 422, "moderation_blocked"),
        ({"json": {"prompt": "x", "video": {"id": "video_nope"}}}, 404, "video_not_found"),
        ({"data": {"prompt": "x"}, "files": {"video": ("v.mp4", b"not a video at all", "video/mp4")}}, 400, "invalid_video"),
        ({"data": {"prompt": "x"}, "files": {"video": ("v.png", image_bytes("PNG"), "image/png")}}, 400, "invalid_video"),
    ]
    for kwargs, status, code in bad:
        err = assert_error(await http.post("/v1/videos/extensions", headers=me["headers"], **kwargs), status, code)
        assert "/tmp" not in err["message"] and "fabula-upload" not in err["message"], err  # no server path in the answer
        if code == "invalid_video":
            assert err["param"] == "video", err  # the field at fault, for the OpenAI SDK
    r = await http.post("/v1/videos/extensions", json={"prompt": "x", "video": {"id": src["id"]}}, headers=other["headers"])
    assert_error(r, 404, "video_not_found")
    assert await video_count(http, me["headers"]) == before


async def test_delete_a_completed_video_takes_its_post_and_media(http, stores, settings, finished):
    me, vid, post = finished["user"], finished["video"]["id"], finished["post"]
    media = LocalMediaStore(settings.media_root)
    assert media.exists(vid, "video") and media.exists(vid, "thumbnail")
    assert (await http.get(f"/v1/posts/{post['id']}", headers=me["headers"])).status_code == 200
    r = await http.delete(f"/v1/videos/{vid}", headers=me["headers"])
    assert r.status_code == 200 and r.json() == {"id": vid, "deleted": True, "object": "video.deleted"}
    assert not media.path(vid, "video").parent.exists()
    assert_error(await http.get(f"/v1/posts/{post['id']}", headers=me["headers"]), 404)
    assert_error(await http.get(f"/v1/videos/{vid}/content", headers=me["headers"]), 404)
    assert await stores.db["posts"].count_documents({"video_id": vid}) == 0
