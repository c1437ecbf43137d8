"""An async Python client for Fabula's HTTP and WebSocket APIs (httpx + websockets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets


class FabulaAPIError(Exception):
    """A 4xx/5xx answer, carrying the server's error body."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class FabulaClient:
    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def __aenter__(self) -> "FabulaClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = await self._http.request(method, path, headers={**self._headers(), **kwargs.pop("headers", {})}, **kwargs)
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "http_error", "message": response.text}
            raise FabulaAPIError(response.status_code, err.get("code", ""), err.get("message", ""), err.get("details"))
        return response

    async def _json(self, method: str, path: str, **kwargs) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    # -- accounts -------------------------------------------------------

    async def signup(self, handle: str, password: str) -> dict:
        body = await self._json("POST", "/v1/auth/signup", json={"handle": handle, "password": password})
        self.token = body["token"]
        return body

    async def login(self, handle: str, password: str) -> dict:
        body = await self._json("POST", "/v1/auth/login", json={"handle": handle, "password": password})
        self.token = body["token"]
        return body

    async def logout(self) -> None:
        await self.request("POST", "/v1/auth/logout")
        self.token = None

    async def me(self) -> dict:
        return await self._json("GET", "/v1/me")

    async def user(self, handle: str) -> dict:
        return await self._json("GET", f"/v1/users/{handle}")

    async def follow(self, handle: str) -> dict:
        return await self._json("POST", f"/v1/users/{handle}/follow")

    async def unfollow(self, handle: str) -> dict:
        return await self._json("DELETE", f"/v1/users/{handle}/follow")

    # -- videos ---------------------------------------------------------

    async def create_video(self, prompt: str, *, seconds: int | str | None = None, size: str | None = None, **extra: Any) -> dict:
        body: dict[str, Any] = {"prompt": prompt, **extra}
        if seconds is not None:
            body["seconds"] = str(seconds)
        if size is not None:
            body["size"] = size
        return await self._json("POST", "/v1/videos", json=body)

    async def video(self, video_id: str) -> dict:
        return await self._json("GET", f"/v1/videos/{video_id}")

    async def download(self, video_id: str, variant: str = "video", byte_range: tuple[int, int] | None = None) -> bytes:
        headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        response = await self.request("GET", f"/v1/videos/{video_id}/content", params={"variant": variant}, headers=headers)
        return response.content

    # -- posts and feed -------------------------------------------------

    async def publish(self, video_id: str, caption: str = "") -> dict:
        return await self._json("POST", "/v1/posts", json={"video_id": video_id, "caption": caption})

    async def feed(self, kind: str = "following", cursor: str | None = None, limit: int = 20) -> dict:
        params: dict[str, Any] = {"kind": kind, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return await self._json("GET", "/v1/feed", params=params)

    # -- WebSocket ------------------------------------------------------

    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/ws"

    async def watch_video(self, video_id: str) -> AsyncIterator[dict]:
        """Messages about one video over the WebSocket, ending once it has completed or failed."""
        async with websockets.connect(self.ws_url(), additional_headers=self._headers()) as ws:
            await ws.send(json.dumps({"type": "subscribe", "data": {"video_id": video_id}, "id": "sub-1"}))
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "error":
                    raise FabulaAPIError(400, msg["data"]["code"], msg["data"]["message"])
                yield msg
                if msg["type"] == "video" and msg["data"]["status"] in ("completed", "failed"):
                    return
