"""The web app's HTTP side: its page with the server's choices written in,
assets under a versioned path with ETags, 304s and gzip, a shared post's
page with its card tags for browsers and unfurlers (JSON still for API
clients), the public media of public posts only, and a user's cameos."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from server.web_bundle import web_root
from tests.conftest import signup

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def page_config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="fabula-config">(.*?)</script>', html, re.S)
    assert found, html[:500]
    return json.loads(found.group(1))


async def test_the_app_page_and_its_assets(http):
    r = await http.get("/", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"  # one charset, not two
    assert "default-src 'self'" in r.headers["content-security-policy"]
    config = page_config(r.text)
    assert config["sizes"] and all(re.fullmatch(r"\d+x\d+", s) for s in config["sizes"])
    assert config["seconds"][0] == 1 and {"id": "political", "label": "never in political content"} in config["restrictions"]
    version = config["version"]
    assert f"/app/{version}/js/main.js" in r.text and "%ASSETS%" not in r.text

    # the page revalidates with its ETag
    again = await http.get("/", headers={**BROWSER, "if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    somebody = (await signup(http))["user"]["handle"]
    for path in ("/create", "/inbox", "/me", "/cameo", "/cameo/new", f"/u/{somebody}", "/signin", "/search", "/settings", "/settings/blocked"):
        assert (await http.get(path, headers=BROWSER)).status_code == 200, path
    # a handle nobody has: the app still (it says so), with 404
    nobody = await http.get("/u/nobody_" + "x" * 20, headers=BROWSER)
    assert nobody.status_code == 404 and "text/html" in nobody.headers["content-type"]

    # every file of clients/web is served under the version, cached for a year
    names = [p.relative_to(web_root()).as_posix() for p in web_root().rglob("*") if p.is_file() and p.name != "index.html"]
    assert "js/main.js" in names and "css/tokens.css" in names
    for name in names:
        got = await http.get(f"/app/{version}/{name}", headers={"accept-encoding": "identity"})
        assert got.status_code == 200, name
        assert got.content == (web_root() / name).read_bytes()
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    js = await http.get(f"/app/{version}/js/main.js", headers={"accept-encoding": "gzip"})
    assert js.headers["content-type"] == "text/javascript; charset=utf-8" and js.headers["content-encoding"] == "gzip"
    css = await http.get(f"/app/{version}/css/tokens.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert js.text.startswith("// Fabula's web app")
    cached = await http.get(f"/app/{version}/js/main.js", headers={"if-none-match": js.headers["etag"]})
    assert cached.status_code == 304
    # another version's path gets today's file, checked again each time; unknown files are 404
    old = await http.get(f"/app/000000000000/js/main.js")
    assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
    assert (await http.get(f"/app/{version}/js/nothing.js")).status_code == 404
    assert (await http.get(f"/app/{version}/../pyproject.toml")).status_code == 404
    assert (await http.get(f"/app/{version}/index.html")).status_code == 404


async def _public_post(http, stores, user: dict, visibility: str = "public") -> dict:
    """A post on a completed video, written straight into the stores (no worker needed)."""
    from core.media_store import open_media_store
    from feed import publishing
    from gen import jobs

    job = await jobs.create_job(stores, owner_id=user["user"]["id"], prompt="a kite over the sea", model="tiny", width=64, height=64, seconds=1, steps=None)
    await stores.db["videos"].update_one({"_id": job.id}, {"$set": {"status": "completed"}})
    media = open_media_store(stores.settings)
    await media.put_bytes(job.id, "video", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    await media.put_bytes(job.id, "thumbnail", b"\xff\xd8\xff\xe0thumb")
    post = await publishing.publish(
        stores, author_id=user["user"]["id"], video_id=job.id, caption="kite day <b>&</b>", visibility=visibility, prompt=job.prompt
    )
    return {"id": post.id, "video_id": job.id}


async def test_a_shared_post_page_has_its_card_and_public_media(http, stores, api):
    me = await signup(http)
    shared = await _public_post(http, stores, me)
    r = await http.get(f"/p/{shared['id']}", headers=BROWSER)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'<meta property="og:video" content="{api.url}/p/{shared["id"]}/video">' in r.text
    assert f'<meta property="og:image" content="{api.url}/p/{shared["id"]}/thumbnail">' in r.text
    assert '<meta property="og:description" content="kite day &lt;b&gt;&amp;&lt;/b&gt;">' in r.text  # escaped
    assert "<b>&</b>" not in r.text.split("fabula-config")[0]
    data = page_config(r.text)["data"]
    assert data["post"]["id"] == shared["id"] and data["post"]["public_video_url"] == f"/p/{shared['id']}/video"
    # a link unfurler that asks for anything gets the page too; an API client still gets JSON
    bot = await http.get(f"/p/{shared['id']}", headers={"user-agent": "Slackbot-LinkExpanding 1.0", "accept": "*/*"})
    assert "og:title" in bot.text
    api_client = await http.get(f"/p/{shared['id']}")
    assert api_client.json()["id"] == shared["id"]

    video = await http.get(f"/p/{shared['id']}/video", headers={"range": "bytes=0-7"})
    assert video.status_code == 206 and video.content == b"\x00\x00\x00\x18ftyp"
    thumb = await http.get(f"/p/{shared['id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")

    # not public: no card, no media; the page still loads (the app may show it to a follower)
    hidden = await _public_post(http, stores, me, visibility="followers")
    page = await http.get(f"/p/{hidden['id']}", headers=BROWSER)
    assert page.status_code == 404 and "og:video" not in page.text and page_config(page.text)["data"] == {"post_id": hidden["id"]}
    for variant in ("video", "thumbnail"):
        r = await http.get(f"/p/{hidden['id']}/{variant}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "post_not_found"
    assert (await http.get("/p/post_nothing/video")).status_code == 404


async def test_a_users_cameos(http, stores):
    from accounts import users
    from core.media_store import open_media_store
    from tests.cameos.helpers import character

    owner = await signup(http)
    other = await signup(http)
    cameo = await character(stores, open_media_store(stores.settings), await users.get_user(stores, owner["user"]["id"]), "pip")
    r = await http.get(f"/v1/users/{owner['user']['handle']}/cameos", headers=other["headers"])
    assert r.status_code == 200
    [seen] = r.json()["data"]
    assert seen["id"] == cameo.id and seen["preferences"] is None and seen["my_grant"] is None
    mine = await http.get(f"/v1/users/{owner['user']['handle']}/cameos", headers=owner["headers"])
    assert mine.json()["data"][0]["preferences"] == []
    assert (await http.get(f"/v1/users/{other['user']['handle']}/cameos", headers=owner["headers"])).json()["data"] == []
    assert (await http.get(f"/v1/users/nobody_{uuid.uuid4().hex[:6]}/cameos", headers=owner["headers"])).status_code == 404
    await http.post(f"/v1/users/{owner['user']['handle']}/block", headers=other["headers"])
    assert (await http.get(f"/v1/users/{owner['user']['handle']}/cameos", headers=other["headers"])).status_code == 404
    assert (await http.get(f"/v1/users/{owner['user']['handle']}/cameos")).status_code == 401


@pytest.mark.parametrize("path", ["/no/such/page", "/settings/nothing", "/u", "/p", "/cameos"])
async def test_a_browser_asking_for_a_page_the_app_lacks_gets_the_app_with_404(http, path):
    """The app shows its own "not found" screen; an API client, a write, and any
    path of the API itself still get the JSON error body."""
    r = await http.get(path, headers=BROWSER)
    assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8", (path, r.text[:200])
    assert page_config(r.text)["version"] and "default-src 'self'" in r.headers["content-security-policy"]
    head = await http.head(path, headers=BROWSER)
    assert head.status_code == 404 and head.content == b""
    for method, where, headers in (
        ("GET", path, {"accept": "application/json"}),
        ("GET", path, {}),
        ("POST", path, BROWSER),
        ("GET", "/v1/nothing" + path, BROWSER),
        ("GET", "/app/nothing" + path, BROWSER),
    ):
        r = await http.request(method, where, headers=headers)
        assert r.headers["content-type"].startswith("application/json"), (method, where, r.status_code, r.text[:200])
        assert r.status_code in (404, 405) and r.json()["error"]["code"] in ("not_found", "method_not_allowed"), (method, where, r.text[:200])
