"""``HEAD`` answered as ``GET`` without its body (RFC 9110, 9.3.2).

Litestar serves ``HEAD`` only where a handler declares it, so a ``HEAD`` of
any ``GET`` route (a player asking a video's length and type before it
fetches ranges, ``curl -I``) was answered 405. ``HeadAsGet`` wraps the app:
the request goes in as ``GET``, with the same authentication, checks and
limits, and the answer's status and headers (``Content-Length``,
``Content-Range``, ``ETag``) go out with an empty body. Every ``Allow``
header that names ``GET`` names ``HEAD`` too."""

from __future__ import annotations

_ALLOW = b"allow"


def _with_head(headers) -> list:
    """``headers`` with ``HEAD`` added to an ``Allow`` that names ``GET``. The
    WebSocket's path is named by Litestar as allowing ``websocket``, which is no
    HTTP method: its handshake is a ``GET`` (and only that, so no ``HEAD``)."""
    out = []
    for name, value in headers:
        if name.lower() == _ALLOW:
            methods = [m.strip() for m in value.decode("latin-1").split(",") if m.strip()]
            if any(m.lower() == "websocket" for m in methods):
                methods = sorted({"GET" if m.lower() == "websocket" else m for m in methods})
            elif "GET" in methods and "HEAD" not in methods:
                methods = sorted([*methods, "HEAD"])
            value = ", ".join(methods).encode("latin-1")
        out.append((name, value))
    return out


class HeadAsGet:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        options = scope["method"] == "OPTIONS"
        ended = False

        async def answer(message):
            nonlocal ended
            if message["type"] == "http.response.start" and (options or message["status"] == 405):  # the answers with an Allow
                message = {**message, "headers": _with_head(message.get("headers") or ())}
            elif head and message["type"] == "http.response.body":
                if ended or message.get("more_body", False):
                    return  # the body of a streamed answer is read and dropped
                ended = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"} if head else scope, receive, answer)
