"""``fabula api``: the Litestar app under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import os

import uvicorn

from core.logs import setup_logging
from core.settings import load_settings


def run_api(host: str, port: int, workers: int = 1) -> int:
    # ranking does many small vector products: one BLAS thread each is
    # faster than a pool competing with the event loop (set before NumPy loads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from server.ws.protocol import MAX_MESSAGE_BYTES

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_json, process="api")
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        ws="websockets",
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
    return 0
