"""``fabula api``: the Litestar app under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import uvicorn

from core.logs import setup_logging
from core.settings import load_settings


def run_api(host: str, port: int, workers: int = 1) -> int:
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
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    return 0
