"""The web app: its pages, its static files and a shared post's public page.

- ``/`` and the app's other paths (``/create``, ``/inbox``, ``/u/{handle}``…)
  serve one page, ``clients/web/index.html``, with what this server makes
  (sizes, lengths, cameo restrictions) written into it; the app routes on
  the client from there.
- ``/app/<version>/<file>``: the app's modules, styles and icons
  (``server.web_bundle``), cached for a year under their bundle's version,
  with ETags and gzip.
- ``/p/{id}`` asked for by a browser or a link unfurler (``wants_html``)
  is the same page with the post's Open Graph and Twitter card tags, so a
  shared link unfurls and plays without signing in when the post is public
  (``server.routes.social.shared_post`` hands those requests here; API
  clients still get the post as JSON).
- ``/p/{id}/video`` and ``/p/{id}/thumbnail``: a public post's media
  without a token, for that page and for unfurlers (404 for any other post).
"""

from __future__ import annotations

import html
import json
import re
from typing import Annotated

from litestar import Request, Response, get
from litestar.params import FromPath, PathParameter

from accounts import users
from core.errors import NotFound
from core.settings import Settings
from core.stores import Stores
from feed.social.posts import get_post
from feed.social.visibility import post_not_found
from policy.cameo_restrictions import RESTRICTIONS
from server.media import guarded, media_store
from server.post_views import post_views
from server.ranges import media_response
from server.state import SettingsDep, StoresDep
from server.videos_schema import OPENAI_SIZES, allowed_sizes
from server.web_bundle import Asset, bundle, etag_of

SHELL_PATHS = [
    "/", "/signin", "/following", "/create", "/inbox", "/me", "/cameo", "/cameo/new", "/cameo/settings",
    "/search", "/settings", "/settings/blocked",
]
SECONDS = (1, 2, 4, 8, 12)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# link unfurlers that ask for */* but read the page's meta tags
_UNFURLERS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|discordbot|linkedinbot|whatsapp|telegrambot|"
    r"skypeuripreview|embedly|pinterest|redditbot|applebot|googlebot|bingbot|iframely|mastodon",
    re.IGNORECASE,
)


def wants_html(request: Request) -> bool:
    """A browser (it asks for text/html) or a known link unfurler, rather than an API client."""
    if "text/html" in request.headers.get("accept", ""):
        return True
    return bool(_UNFURLERS.search(request.headers.get("user-agent", "")))


def app_config(settings: Settings) -> dict:
    """What the app needs to know about this server, written into its page. Sizes are
    those the served preset makes itself (OpenAI's named sizes are made smaller and
    scaled up by presets that do not reach them)."""
    sizes = [s for s in allowed_sizes(settings) if s not in OPENAI_SIZES] or allowed_sizes(settings)
    return {
        "model": settings.model,
        "sizes": sizes,
        "default_size": settings.default_size,
        "seconds": [s for s in SECONDS if s <= settings.max_video_seconds] or [1],
        "restrictions": [{"id": r.id, "label": r.label} for r in RESTRICTIONS],
    }


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def _matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in given.split(",")) if given else False


def send(request: Request, asset: Asset, cache: str, extra: dict[str, str] | None = None, status: int = 200) -> Response:
    """``asset`` with its ETag (304 when the client has it), gzipped when the client takes it."""
    headers = {"ETag": asset.etag, "Cache-Control": cache, "Vary": "Accept-Encoding", **(extra or {})}
    if status == 200 and _matches(request, asset.etag):
        return Response(b"", status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request):
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    return Response(body, media_type=asset.content_type, headers=headers, status_code=status)


def _script_json(value: dict) -> str:
    # safe inside <script type="application/json">: no "</script>" or "<!--" can close it
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(request: Request, settings: Settings, *, title: str = "Fabula", head: str = "", data: dict | None = None, status: int = 200) -> Response:
    """The app's one page, its assets named by the bundle's version, with ``head`` tags
    and ``data`` (given to the app as it starts) written in."""
    found = bundle()
    template = found.get("index.html")
    if template is None:
        return Response("the web app's files are missing (clients/web)", status_code=500, media_type="text/plain")
    page = (
        template.body.decode()
        .replace("%TITLE%", html.escape(title))
        .replace("%HEAD%", head)
        .replace("%ASSETS%", f"/app/{found.version}")
        .replace("%CONFIG%", _script_json({**app_config(settings), "version": found.version, "data": data or {}}))
    ).encode()
    asset = Asset(body=page, gzipped=None, content_type="text/html", etag=etag_of(page))  # the charset: Litestar's
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Vary": "Accept, Accept-Encoding"}
    return send(request, asset, REVALIDATE, headers, status=status)


@get(SHELL_PATHS, include_in_schema=False)
async def app_page(request: Request, settings: SettingsDep) -> Response:
    return render_page(request, settings)


@get("/u/{handle:str}", include_in_schema=False)
async def profile_page(request: Request, stores: StoresDep, settings: SettingsDep, handle: FromPath[str]) -> Response:
    """The app on a profile; status 404 for a handle nobody has (the app says
    so: a page load cannot tell who asks, so a block is the app's to show)."""
    if len(handle) > 64 or await users.get_by_handle(stores, handle) is None:
        return render_page(request, settings, title="Not found · Fabula", status=404)
    return render_page(request, settings, title=f"@{handle} on Fabula")


@get("/app/{version:str}/{path:path}", include_in_schema=False)
async def app_asset(request: Request, version: FromPath[str], path: FromPath[str]) -> Response:
    found = bundle()
    asset = found.get(path.lstrip("/"))
    if asset is None or path.lstrip("/") == "index.html":
        raise NotFound(f"the app has no file {path.lstrip('/')!r}")
    # an old version's URL still gets today's file, but only for as long as it is checked again
    return send(request, asset, IMMUTABLE if version == found.version else REVALIDATE, {"X-Content-Type-Options": "nosniff"})


# --- a shared post --------------------------------------------------------------------


def base_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _og_tags(post: dict, url: str) -> str:
    author = post["author"]
    name = author.get("display_name") or author["handle"]
    title = f"{name} (@{author['handle']}) on Fabula"
    caption = post.get("caption") or "A short video made on Fabula."
    tags = {
        "og:type": "video.other",
        "og:site_name": "Fabula",
        "og:title": title,
        "og:description": caption,
        "og:url": f"{url}/p/{post['id']}",
        "og:image": f"{url}/p/{post['id']}/thumbnail",
        "og:video": f"{url}/p/{post['id']}/video",
        "og:video:type": "video/mp4",
        "twitter:card": "summary_large_image",
        "twitter:title": title,
        "twitter:description": caption,
        "twitter:image": f"{url}/p/{post['id']}/thumbnail",
    }
    lines = [f'<meta property="{k}" content="{html.escape(v)}">' for k, v in tags.items()]
    lines.append(f'<meta name="description" content="{html.escape(caption)}">')
    lines.append(f'<link rel="canonical" href="{html.escape(tags["og:url"])}">')
    return "\n    ".join(lines)


async def share_page(request: Request, stores: Stores, settings: Settings, post_id: str) -> Response:
    """``/p/{id}`` for a browser: the app's page, with the post and its card tags when it is
    public; otherwise the page alone (404), where a signed-in app may still show it."""
    import msgspec

    found = await get_post(stores, post_id)
    views = await post_views(stores, [found]) if found is not None and found.visibility == "public" else []
    if not views:
        return render_page(request, settings, title="Fabula", data={"post_id": post_id}, status=404)
    post = msgspec.to_builtins(views[0])
    post["public_video_url"] = f"/p/{post_id}/video"
    post["public_thumbnail_url"] = f"/p/{post_id}/thumbnail"
    author = post["author"]
    title = f"{author.get('display_name') or author['handle']} on Fabula"
    return render_page(request, settings, title=title, head=_og_tags(post, base_url(request, settings)), data={"post_id": post_id, "post": post})


async def _public_media(request: Request, stores: Stores, settings: Settings, post_id: str, variant: str) -> Response:
    found = await get_post(stores, post_id)
    if found is None or found.visibility != "public":
        raise post_not_found(post_id)
    response = await guarded("read", media_response(media_store(settings), found.video_id, variant, request.headers.get("range")))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


PostId = Annotated[str, PathParameter(max_length=64)]


@get("/p/{post_id:str}/video", include_in_schema=False)
async def public_video(request: Request, stores: StoresDep, settings: SettingsDep, post_id: PostId) -> Response:
    return await _public_media(request, stores, settings, post_id, "video")


@get("/p/{post_id:str}/thumbnail", include_in_schema=False)
async def public_thumbnail(request: Request, stores: StoresDep, settings: SettingsDep, post_id: PostId) -> Response:
    return await _public_media(request, stores, settings, post_id, "thumbnail")


ROUTES = [app_page, profile_page, app_asset, public_video, public_thumbnail]
