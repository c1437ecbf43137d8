"""Production defaults of the public surface: no OpenAPI document and no
metrics unless asked for; metrics behind a token when one is set. (The
suite's shared api turns both on, as ``fabula dev`` does.)"""

from __future__ import annotations

import uuid

import httpx
import msgspec
import pytest

from core.settings import Settings
from tests.procs import start_api
from tests.accounts.test_auth_routes import assert_error

TOKEN = "metrics-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def surface_apis(settings, tmp_root):
    defaults = Settings()

    def apart(**overrides):
        surface = {"openapi": defaults.openapi, "metrics_public": defaults.metrics_public, "metrics_token": defaults.metrics_token}
        return msgspec.structs.replace(settings, namespace=settings.namespace + "s" + uuid.uuid4().hex[:6], **{**surface, **overrides})

    plain = start_api(apart(), tmp_root / "logs")
    guarded = start_api(apart(metrics_token=TOKEN), tmp_root / "logs")
    yield plain, guarded
    plain.stop()
    guarded.stop()


async def test_defaults_serve_neither_schema_nor_metrics(surface_apis):
    plain, _ = surface_apis
    async with httpx.AsyncClient(base_url=plain.url, timeout=30) as c:
        for path in ("/schema", "/schema/openapi.json", "/schema/swagger", "/metrics"):
            assert_error(await c.get(path), 404)
        assert (await c.get("/readyz")).status_code == 200


async def test_metrics_behind_a_token(surface_apis):
    _, guarded = surface_apis
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as c:
        assert_error(await c.get("/metrics"), 401)
        assert_error(await c.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
        assert_error(await c.get("/metrics", headers={"Authorization": "Bearer " + TOKEN + "x"}), 401)
        r = await c.get("/metrics", headers={"Authorization": "Bearer " + TOKEN})
        assert r.status_code == 200 and "fabula_" in r.text
        assert_error(await c.get("/schema/openapi.json"), 404)


async def test_the_suite_api_serves_both(http):
    assert (await http.get("/schema/openapi.json")).status_code == 200
    assert (await http.get("/metrics")).status_code == 200
