"""``fabula api``: the Litestar app under uvicorn (uvloop + httptools,
with the project's error body for unreadable requests: ``cli.http_protocol``).

With ``--reuse-port`` the process binds its own listening socket with
``SO_REUSEPORT``: several ``fabula api`` processes then share one port and
the kernel spreads new connections over them (``fabula dev --api-procs N``).
Each is a whole api on its own (its own feed runtime); what a session needs
across processes is in Redis, so a swiper's session resumes on any of them."""

from __future__ import annotations

import os
import socket

import uvicorn

from core.logs import setup_logging
from core.settings import load_settings


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_api(host: str, port: int, workers: int = 1, reuse_port: bool = False) -> int:
    # ranking does many small vector products: one BLAS thread each is
    # faster than a pool competing with the event loop (set before NumPy loads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from cli.http_protocol import HTTP_PROTOCOL, WS_PROTOCOL
    from server.ws.protocol import MAX_MESSAGE_BYTES

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="api")
    options = dict(
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # httptools and websockets, answering what never reaches the app (an
        # unreadable request, a refused handshake) with the project's error body
        http=HTTP_PROTOCOL,
        ws=WS_PROTOCOL,
        # no permessage-deflate: WebSocket messages are small JSON (feed items,
        # counts, acks) or JPEG previews; deflating every send costs the api CPU
        # for bytes that are noise next to the videos (docs/PERFORMANCE.md, "Feed")
        ws_per_message_deflate=False,
        # a frame over the protocol's message limit is refused as it arrives (close 1009), not read whole first
        ws_max_size=MAX_MESSAGE_BYTES,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    if reuse_port:
        sock = reuse_port_socket(host, port)
        uvicorn.Server(uvicorn.Config("server.app:create_app", **options)).run(sockets=[sock])
    else:
        uvicorn.run("server.app:create_app", **options)
    return 0
