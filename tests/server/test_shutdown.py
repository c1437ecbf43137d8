"""An api stopped with SIGTERM (as `fabula dev`, a container or systemd stops
it) ends its pub/sub readers before it closes its Redis connections, so its
last log lines are no tracebacks of readers that lost their connection."""

from __future__ import annotations

import json
import uuid

import httpx
import websockets

from tests.procs import start_api


async def test_an_api_stopped_with_sigterm_logs_no_subscriber_failure(settings, tmp_root):
    api = start_api(settings, tmp_root / f"logs-shutdown-{uuid.uuid4().hex[:6]}")
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
            r = await http.post("/v1/auth/signup", json={"handle": "s" + uuid.uuid4().hex[:12], "password": "correct horse battery", "birth_date": "1990-01-01"})
            assert r.status_code == 201, r.text
            token = r.json()["token"]
        ws_url = api.url.replace("http://", "ws://") + "/v1/ws"
        # a socket starts the notifications' and the token revocations' readers (the feed's runs from the start)
        async with websockets.connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            await ws.send(json.dumps({"type": "ping", "id": "p"}))
            assert json.loads(await ws.recv())["type"] == "pong"
    finally:
        api.stop()  # SIGTERM, as a process manager stops it (uvicorn then ends by the same signal)
    log = api.log()
    assert "Application shutdown complete" in log, log[-3000:]
    assert "subscriber failed" not in log, log[-6000:]
    assert "Traceback" not in log, log[-6000:]
