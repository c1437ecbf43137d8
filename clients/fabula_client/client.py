"""The HTTP API, one method per route (async, httpx). Every method returns
the decoded JSON body (or bytes for media) and raises ``FabulaAPIError``
on a 4xx/5xx. Lists come as ``{"data": [...], "next_cursor": ...}`` pages
(``videos()``: OpenAI's ``{data, first_id, last_id, has_more}``); ``pages()``
walks either. ``socket()`` opens the WebSocket
(``fabula_client.socket``)."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from .errors import FabulaAPIError
from .previews import PreviewFrame
from .socket import Socket, ws_url

DONE = ("completed", "failed")
Upload = str | os.PathLike | bytes | BinaryIO


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _file(upload: Upload, default_name: str, content_type: str) -> tuple[str, Any, str]:
    if isinstance(upload, (str, os.PathLike)):
        path = Path(upload)
        return path.name, path.read_bytes(), content_type
    if isinstance(upload, bytes):
        return default_name, upload, content_type
    return getattr(upload, "name", default_name), upload.read(), content_type


def _video_type(name: str) -> str:
    return "video/webm" if name.lower().endswith(".webm") else "video/mp4"


class FabulaClient:
    """``FabulaClient(base_url, token=None)``; ``signup``/``login`` set the token."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> "FabulaClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any route: the raw response; FabulaAPIError on a 4xx/5xx."""
        response = await self._http.request(method, path, headers={**self._headers(), **kwargs.pop("headers", {})}, **kwargs)
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "http_error", "message": response.text}
            raise FabulaAPIError(response.status_code, err.get("code", ""), err.get("message", ""), err.get("details"))
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        return response.json() if response.content else None

    async def pages(self, fetch: Callable[..., Awaitable[dict]], *args: Any, **kwargs: Any) -> AsyncIterator[dict]:
        """Every item of a paged list: ``async for post in client.pages(client.user_posts, "ada")``.
        Fabula's lists page on ``cursor`` (``next_cursor``); the Videos API's (``videos``), OpenAI's
        way, on ``after`` (``last_id`` while ``has_more``)."""
        openai_style = "after" in inspect.signature(fetch).parameters
        key = "after" if openai_style else "cursor"
        position = kwargs.pop(key, None)
        while True:
            page = await fetch(*args, **{key: position}, **kwargs)
            for item in page.get("data", []):
                yield item
            position = (page.get("last_id") if page.get("has_more") else None) if openai_style else page.get("next_cursor")
            if not position:
                return

    # -- health ---------------------------------------------------------

    async def health(self) -> dict:
        return await self._json("GET", "/healthz")

    async def ready(self) -> dict:
        return await self._json("GET", "/readyz")

    # -- accounts -------------------------------------------------------

    async def signup(self, handle: str, password: str, birth_date: str | datetime.date) -> dict:
        """Make an account and sign in with it. ``birth_date``: ``YYYY-MM-DD``
        (or a date); under 13 is refused (403 ``too_young``), under 18 makes a
        minor's account (strictest moderation, not found by adult strangers)."""
        if isinstance(birth_date, datetime.date):
            birth_date = birth_date.isoformat()
        body = await self._json("POST", "/v1/auth/signup", json={"handle": handle, "password": password, "birth_date": birth_date})
        self.token = body["token"]
        return body

    async def login(self, handle: str, password: str) -> dict:
        body = await self._json("POST", "/v1/auth/login", json={"handle": handle, "password": password})
        self.token = body["token"]
        return body

    async def logout(self) -> None:
        await self.request("POST", "/v1/auth/logout")
        self.token = None

    async def logout_all(self) -> dict:
        """Revoke every token of mine, this one included."""
        body = await self._json("POST", "/v1/auth/logout-all")
        self.token = None
        return body

    async def change_password(self, current_password: str, new_password: str) -> dict:
        return await self._json("POST", "/v1/auth/password", json={"current_password": current_password, "new_password": new_password})

    async def me(self) -> dict:
        return await self._json("GET", "/v1/me")

    async def update_me(self, **fields: str) -> dict:
        """``display_name``, ``bio``, ``avatar_url`` ("" clears one)."""
        return await self._json("PATCH", "/v1/me", json=fields)

    async def delete_account(self, password: str) -> None:
        """Delete my account for good (everything I made and did goes with it)."""
        await self.request("DELETE", "/v1/me", json={"password": password})
        self.token = None

    async def export_account(self) -> bytes:
        """A zip of my data (one JSON file per kind) and my finished videos."""
        return (await self.request("GET", "/v1/me/export")).content

    async def user(self, handle: str) -> dict:
        return await self._json("GET", f"/v1/users/{handle}")

    async def relationship(self, handle: str) -> dict:
        """How I stand towards them: ``following``, ``followed_by``, ``requested``,
        ``requested_by``, ``blocking``, and ``user``."""
        return await self._json("GET", f"/v1/users/{handle}/relationship")

    async def search_users(self, q: str, cursor: str | None = None, limit: int | None = None) -> dict:
        """Users whose handle starts with ``q`` (ignoring case), a page at a time
        (``pages(client.search_users, "ad")`` walks them). Minors are not shown
        to an adult who neither follows them nor is followed by them."""
        return await self._json("GET", "/v1/users", params=_params(q=q, cursor=cursor, limit=limit))

    async def followers(self, handle: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/users/{handle}/followers", params=_params(cursor=cursor, limit=limit))

    async def following(self, handle: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/users/{handle}/following", params=_params(cursor=cursor, limit=limit))

    async def follow(self, handle: str) -> dict:
        return await self._json("POST", f"/v1/users/{handle}/follow")

    async def unfollow(self, handle: str) -> dict:
        return await self._json("DELETE", f"/v1/users/{handle}/follow")

    async def follow_requests(self, cursor: str | None = None, limit: int | None = None) -> dict:
        """Who asked to follow me (a private account)."""
        return await self._json("GET", "/v1/me/follow-requests", params=_params(cursor=cursor, limit=limit))

    async def approve_follow_request(self, handle: str) -> dict:
        return await self._json("POST", f"/v1/me/follow-requests/{handle}/approve", json={})

    async def decline_follow_request(self, handle: str) -> dict:
        return await self._json("POST", f"/v1/me/follow-requests/{handle}/decline", json={})

    async def remove_follower(self, handle: str) -> dict:
        return await self._json("DELETE", f"/v1/me/followers/{handle}")

    async def block(self, handle: str) -> dict:
        return await self._json("POST", f"/v1/users/{handle}/block")

    async def unblock(self, handle: str) -> dict:
        return await self._json("DELETE", f"/v1/users/{handle}/block")

    async def blocks(self, cursor: str | None = None, limit: int | None = None) -> dict:
        """Whom I block, newest first (their profiles are hidden from me; this is where to find them to unblock)."""
        return await self._json("GET", "/v1/me/blocks", params=_params(cursor=cursor, limit=limit))

    # -- videos ---------------------------------------------------------

    async def create_video(
        self,
        prompt: str,
        *,
        seconds: int | str | None = None,
        size: str | None = None,
        input_reference: Upload | None = None,
        **extra: Any,
    ) -> dict:
        """A new video job (``model``, ``steps``, ``seed`` go in ``extra``);
        ``input_reference``: a picture (path, bytes or file) its first frame follows."""
        body: dict[str, Any] = {"prompt": prompt, **extra}
        if seconds is not None:
            body["seconds"] = str(seconds)
        if size is not None:
            body["size"] = size
        if input_reference is None:
            return await self._json("POST", "/v1/videos", json=body)
        form = {k: str(v) for k, v in body.items()}
        return await self._json("POST", "/v1/videos", data=form, files={"input_reference": _file(input_reference, "reference.png", "image/png")})

    async def videos(self, after: str | None = None, limit: int | None = None, order: str | None = None) -> dict:
        """My videos: ``{data, first_id, last_id, has_more}``."""
        return await self._json("GET", "/v1/videos", params=_params(after=after, limit=limit, order=order))

    async def video(self, video_id: str) -> dict:
        return await self._json("GET", f"/v1/videos/{video_id}")

    async def delete_video(self, video_id: str) -> dict:
        return await self._json("DELETE", f"/v1/videos/{video_id}")

    async def cancel_video(self, video_id: str) -> dict:
        """Stop a queued or running video of mine: it ends ``failed`` with ``error.code``
        ``cancelled``; 409 ``video_finished`` when it had already ended."""
        return await self._json("POST", f"/v1/videos/{video_id}/cancel")

    async def remix(self, video_id: str, prompt: str) -> dict:
        """A new video from a completed one of mine, or from the video of a post
        I can see (anyone's), with a new prompt: the same model, size, length,
        steps and seed."""
        return await self._json("POST", f"/v1/videos/{video_id}/remix", json={"prompt": prompt})

    async def extend(self, video_id: str, prompt: str, *, seconds: int | str | None = None, **extra: Any) -> dict:
        body: dict[str, Any] = {"prompt": prompt, "video": {"id": video_id}, **extra}
        if seconds is not None:
            body["seconds"] = str(seconds)
        return await self._json("POST", "/v1/videos/extensions", json=body)

    async def edit(self, video_id: str, prompt: str) -> dict:
        """OpenAI's video edit (400 ``unsupported`` where no served model makes video from video)."""
        return await self._json("POST", "/v1/videos/edits", json={"prompt": prompt, "video": {"id": video_id}})

    async def download(self, video_id: str, variant: str = "video", byte_range: tuple[int, int] | None = None) -> bytes:
        """``variant``: video (MP4), thumbnail or spritesheet (JPEG)."""
        headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        response = await self.request("GET", f"/v1/videos/{video_id}/content", params={"variant": variant}, headers=headers)
        return response.content

    async def preview(self, video_id: str) -> PreviewFrame:
        """The newest live preview (404 ``preview_not_found`` before the first step)."""
        response = await self.request("GET", f"/v1/videos/{video_id}/preview")
        fmt = 2 if response.headers.get("content-type", "").startswith("image/png") else 1
        step, steps = int(response.headers.get("x-preview-step", 0)), int(response.headers.get("x-preview-steps", 0))
        return PreviewFrame(1, fmt, video_id, step, steps, response.content)

    async def preview_rtc(self, video_id: str, sdp: str) -> dict:
        """WebRTC signalling: my SDP offer for the video's live preview; the answer ``{sdp, type, peer_id}``.
        ``fabula_client.rtc.open_rtc_preview`` does the rest with aiortc."""
        return await self._json("POST", f"/v1/videos/{video_id}/preview/rtc", json={"sdp": sdp, "type": "offer"})

    async def wait_video(self, video_id: str, *, timeout: float | None = None, on_event: Callable[[dict], Any] | None = None) -> dict:
        """The video once it completed or failed (a cancelled one fails with ``error.code``
        ``cancelled``), watched over the WebSocket (``on_event`` gets each message: progress,
        status...)."""

        async def watch() -> dict:
            final: dict | None = None
            async for msg in self.watch_video(video_id):
                if on_event is not None:
                    on_event(msg)
                if msg["type"] == "video":
                    final = msg["data"]
            return final if final is not None else await self.video(video_id)

        return await asyncio.wait_for(watch(), timeout)

    # -- cameos ---------------------------------------------------------

    async def cameo_challenge(self) -> dict:
        """A one-time liveness challenge: ``{id, digits, moves, expires_at}``."""
        return await self._json("POST", "/v1/cameos/challenges")

    async def create_cameo(self, challenge_id: str, video: Upload, *, name: str | None = None) -> dict:
        """My cameo from a recording (WebM or MP4) answering ``challenge_id``."""
        filename, content, _ = _file(video, "cameo.mp4", "")
        fields = _params(challenge_id=challenge_id, name=name)
        return await self._json("POST", "/v1/cameos", data=fields, files={"video": (filename, content, _video_type(filename))})

    async def create_character(self, name: str, video: Upload, *, challenge_id: str | None = None) -> dict:
        filename, content, _ = _file(video, "character.mp4", "")
        fields = _params(name=name, challenge_id=challenge_id)
        return await self._json("POST", "/v1/videos/characters", data=fields, files={"video": (filename, content, _video_type(filename))})

    async def character(self, character_id: str) -> dict:
        return await self._json("GET", f"/v1/videos/characters/{character_id}")

    async def cameo(self, cameo_id: str) -> dict:
        return await self._json("GET", f"/v1/cameos/{cameo_id}")

    async def my_cameos(self) -> dict:
        return await self._json("GET", "/v1/me/cameos")

    async def user_cameos(self, handle: str) -> dict:
        return await self._json("GET", f"/v1/users/{handle}/cameos")

    async def update_cameo(self, cameo_id: str, **changes: Any) -> dict:
        """``permission`` (only_me, approved, mutuals, everyone), ``paused``, ``preferences``, ``restrictions``, ``name``."""
        return await self._json("PATCH", f"/v1/cameos/{cameo_id}", json=changes)

    async def delete_cameo(self, cameo_id: str) -> dict:
        return await self._json("DELETE", f"/v1/cameos/{cameo_id}")

    async def request_cameo(self, cameo_id: str) -> dict:
        """Ask the owner to let me use their cameo."""
        return await self._json("POST", f"/v1/cameos/{cameo_id}/requests")

    async def cameo_requests(
        self, direction: str = "incoming", state: str | None = None, cursor: str | None = None, limit: int | None = None
    ) -> dict:
        """``incoming``: requests waiting for my answer; ``outgoing``: mine (``state`` filters them)."""
        return await self._json("GET", "/v1/me/cameo-requests", params=_params(direction=direction, state=state, cursor=cursor, limit=limit))

    async def cameo_grants(self, cameo_id: str, state: str | None = None, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/cameos/{cameo_id}/grants", params=_params(state=state, cursor=cursor, limit=limit))

    async def approve_cameo(self, cameo_id: str, user_id: str) -> dict:
        return await self._json("POST", f"/v1/cameos/{cameo_id}/grants/{user_id}/approve")

    async def decline_cameo(self, cameo_id: str, user_id: str) -> dict:
        return await self._json("POST", f"/v1/cameos/{cameo_id}/grants/{user_id}/decline")

    async def revoke_cameo(self, cameo_id: str, user_id: str) -> dict:
        return await self._json("POST", f"/v1/cameos/{cameo_id}/grants/{user_id}/revoke")

    async def cameo_appearances(self, cameo_id: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/cameos/{cameo_id}/appearances", params=_params(cursor=cursor, limit=limit))

    async def remove_appearance(self, cameo_id: str, video_id: str) -> dict:
        """Remove a video my cameo appears in (its post, media and job)."""
        return await self._json("DELETE", f"/v1/cameos/{cameo_id}/appearances/{video_id}")

    # -- posts ----------------------------------------------------------

    async def publish(self, video_id: str, caption: str = "", *, visibility: str | None = None, remix_of: str | None = None) -> dict:
        """Post a completed video of mine (``visibility``: public, followers, private)."""
        return await self._json("POST", "/v1/posts", json={"video_id": video_id, "caption": caption, **_params(visibility=visibility, remix_of=remix_of)})

    async def post(self, post_id: str) -> dict:
        return await self._json("GET", f"/v1/posts/{post_id}")

    async def update_post(self, post_id: str, *, caption: str | None = None, visibility: str | None = None) -> dict:
        return await self._json("PATCH", f"/v1/posts/{post_id}", json=_params(caption=caption, visibility=visibility))

    async def delete_post(self, post_id: str) -> dict:
        return await self._json("DELETE", f"/v1/posts/{post_id}")

    async def post_content(self, post_id: str, variant: str = "video") -> bytes:
        response = await self.request("GET", f"/v1/posts/{post_id}/content", params={"variant": variant})
        return response.content

    async def user_posts(self, handle: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/users/{handle}/posts", params=_params(cursor=cursor, limit=limit))

    async def user_cameo_posts(self, handle: str, cursor: str | None = None, limit: int | None = None) -> dict:
        """Posts that feature the user's cameo."""
        return await self._json("GET", f"/v1/users/{handle}/cameo-posts", params=_params(cursor=cursor, limit=limit))

    async def drafts(self, cursor: str | None = None, limit: int | None = None) -> dict:
        """My completed videos that are not posted."""
        return await self._json("GET", "/v1/me/drafts", params=_params(cursor=cursor, limit=limit))

    async def shared_post(self, post_id: str) -> dict:
        """``/p/{id}``, the shareable link, as JSON."""
        return await self._json("GET", f"/p/{post_id}", headers={"Accept": "application/json"})

    # -- likes, comments, shares, views, remixes ------------------------

    async def like(self, post_id: str) -> dict:
        return await self._json("POST", f"/v1/posts/{post_id}/like")

    async def unlike(self, post_id: str) -> dict:
        return await self._json("DELETE", f"/v1/posts/{post_id}/like")

    async def comments(self, post_id: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/posts/{post_id}/comments", params=_params(cursor=cursor, limit=limit))

    async def comment(self, post_id: str, text: str, *, reply_to: str | None = None) -> dict:
        return await self._json("POST", f"/v1/posts/{post_id}/comments", json={"text": text, **_params(reply_to=reply_to)})

    async def replies(self, comment_id: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/comments/{comment_id}/replies", params=_params(cursor=cursor, limit=limit))

    async def delete_comment(self, comment_id: str) -> dict:
        return await self._json("DELETE", f"/v1/comments/{comment_id}")

    async def share(self, post_id: str) -> dict:
        return await self._json("POST", f"/v1/posts/{post_id}/share")

    async def view(self, post_id: str, watch_ms: int, *, completed: bool = False) -> dict:
        return await self._json("POST", f"/v1/posts/{post_id}/view", json={"watch_ms": watch_ms, "completed": completed})

    async def remixes(self, post_id: str, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", f"/v1/posts/{post_id}/remixes", params=_params(cursor=cursor, limit=limit))

    async def chain(self, post_id: str) -> dict:
        """The posts a post remixes, nearest first."""
        return await self._json("GET", f"/v1/posts/{post_id}/chain")

    # -- notifications and the feed ------------------------------------

    async def notifications(self, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", "/v1/notifications", params=_params(cursor=cursor, limit=limit))

    async def read_notifications(self, ids: list[str] | None = None, *, all: bool = False) -> dict:
        """Mark ``ids`` read, or ``all=True`` every one. The body holds what is given: neither,
        or both, is the server's 400 (``give either ids or all: true``), and nothing is marked."""
        body: dict = {}
        if ids is not None:
            body["ids"] = ids
        if all:
            body["all"] = True
        return await self._json("POST", "/v1/notifications/read", json=body)

    async def feed(self, kind: str = "following", cursor: str | None = None, limit: int = 20) -> dict:
        """A page of the feed (``following`` or ``for_you``); pass ``next_cursor`` back for the next."""
        return await self._json("GET", "/v1/feed", params=_params(kind=kind, cursor=cursor, limit=limit))

    # -- reports ----------------------------------------------------------

    async def report(self, kind: str, target_id: str, reason: str, text: str | None = None) -> dict:
        """Report a ``post``, ``comment``, ``user`` (by handle) or ``cameo`` I can see; ``reason``: sexual,
        minors, violence, self_harm, hate, harassment, likeness, illegal, spam or other. The answer is the
        report; reporting the same thing again answers the first report, with ``repeated`` true."""
        paths = {"post": "/v1/posts/{}/report", "comment": "/v1/comments/{}/report", "user": "/v1/users/{}/report", "cameo": "/v1/cameos/{}/report"}
        if kind not in paths:
            raise ValueError(f"kind must be one of {sorted(paths)}")
        return await self._json("POST", paths[kind].format(target_id), json={"reason": reason, **_params(text=text)})

    # -- provenance -----------------------------------------------------

    async def check_provenance(self, upload: Upload) -> dict:
        """Is this file from a Fabula server? What its C2PA manifest, invisible mark and frames say (no sign-in needed)."""
        filename, content, _ = _file(upload, "upload.mp4", "")
        kind = "video/mp4" if filename.lower().endswith((".mp4", ".mov")) else "application/octet-stream"
        return await self._json("POST", "/v1/provenance/check", files={"file": (filename, content, kind)})

    # -- admin ----------------------------------------------------------

    async def admin_workers(self) -> dict:
        return await self._json("GET", "/v1/admin/workers")

    async def admin_queue(self) -> dict:
        return await self._json("GET", "/v1/admin/queue")

    async def admin_reports(self, state: str | None = None, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", "/v1/admin/reports", params=_params(state=state, cursor=cursor, limit=limit))

    async def admin_act(self, report_id: str, action: str, note: str | None = None) -> dict:
        """``remove``, ``restore``, ``suspend_user``, ``unsuspend_user``, ``revoke_cameo`` or ``dismiss``."""
        return await self._json("POST", f"/v1/admin/reports/{report_id}/action", json={"action": action, **_params(note=note)})

    async def admin_audit(self, action: str | None = None, cursor: str | None = None, limit: int | None = None) -> dict:
        return await self._json("GET", "/v1/admin/audit", params=_params(action=action, cursor=cursor, limit=limit))

    # -- WebSocket ------------------------------------------------------

    def ws_url(self) -> str:
        return ws_url(self.base_url)

    def socket(self, **kwargs: Any) -> Socket:
        """``async with client.socket() as ws``: the WebSocket (jobs, previews, feed sessions, notifications, WebRTC signalling)."""
        return Socket(self.ws_url(), self.token, **kwargs)

    async def watch_video(self, video_id: str, *, previews: bool = False) -> AsyncIterator[Any]:
        """Messages about one video over the WebSocket (and, with ``previews``,
        each preview as a ``PreviewFrame``), ending once it completed or failed."""
        async with self.socket() as ws:
            await ws.subscribe(video_id, previews=previews)
            async for msg in ws.messages():
                if isinstance(msg, PreviewFrame):
                    if msg.video_id == video_id:
                        yield msg
                    continue
                if msg["type"] == "error":
                    raise FabulaAPIError(400, msg["data"]["code"], msg["data"]["message"])
                if msg.get("data", {}).get("video_id", msg.get("data", {}).get("id")) != video_id:
                    continue
                yield msg
                if msg["type"] == "video" and msg["data"]["status"] in DONE:
                    return

    async def preview_frames(self, video_id: str) -> AsyncIterator[PreviewFrame]:
        """A running video's live previews (WebSocket binary frames) until it ends."""
        async for msg in self.watch_video(video_id, previews=True):
            if isinstance(msg, PreviewFrame):
                yield msg
