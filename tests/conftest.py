"""Session fixtures: real Valkey and nx-27017 servers (embedded, on free
ports) or the external ones named by FABULA_MONGO_URL / FABULA_REDIS_URL; a
live api process; a worker process; a tiny model built once."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest

from core.embedded import EmbeddedServices
from core.settings import Settings
from core.stores import open_stores
from tests.gen_fixtures import one_torch_thread, tiny, tiny_models_root  # noqa: F401  (the generation tests' fixtures)
from tests.procs import start_api, start_worker


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fabula")


@pytest.fixture(scope="session")
def service_urls(tmp_root):
    mongo, redis = os.environ.get("FABULA_MONGO_URL"), os.environ.get("FABULA_REDIS_URL")
    if mongo and redis:
        yield mongo, redis
        return
    services = EmbeddedServices.start(tmp_root / "services")
    try:
        yield services.mongo_url, services.redis_url
    finally:
        services.stop()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Where the tiny preset is built once and reused across runs."""
    path = Path(os.environ.get("FABULA_TEST_MODEL_DIR", Path(__file__).resolve().parent.parent / "var" / "test-models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def settings(service_urls, tmp_root, model_dir) -> Settings:
    mongo, redis = service_urls
    return Settings(
        mongo_url=mongo,
        redis_url=redis,
        namespace="t" + uuid.uuid4().hex[:10],
        data_dir=tmp_root / "data",
        model_dir=model_dir,
        log_json=True,
        max_body_bytes=256 * 1024,
        # the whole suite signs up and logs in from one address (tests/accounts/test_auth_limits.py checks the limits)
        rate_signup_ip="off",
        rate_login_ip="off",
        # tests write job documents they never queue (to look at a queued video):
        # within the suite's time the workers' sweep (gen.lost_jobs) leaves them
        # queued; tests/gen/test_lost_jobs.py sets its own period and age
        job_sweep_after_s=3600.0,
        # the development surface: tests read the OpenAPI document and the metrics
        openapi=True,
        metrics_public=True,
    )


@pytest.fixture(scope="session")
async def stores(settings):
    s = open_stores(settings)
    yield s
    await s.close()


@pytest.fixture(scope="session")
def api(settings, tmp_root):
    proc = start_api(settings, tmp_root / "logs")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def worker(settings, tmp_root, api):
    proc = start_worker(settings, tmp_root / "logs", name="session-worker")
    yield proc
    proc.stop()


@pytest.fixture
async def http(api):
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        yield client


ADULT_BIRTH_DATE = "1990-01-01"  # what test accounts declare unless a test makes a minor


async def signup(
    http: httpx.AsyncClient, handle: str | None = None, password: str = "correct horse battery", birth_date: str = ADULT_BIRTH_DATE
) -> dict:
    """Create a user (an adult unless ``birth_date`` says otherwise); returns {token, user, headers}."""
    handle = handle or "u" + uuid.uuid4().hex[:12]
    r = await http.post("/v1/auth/signup", json={"handle": handle, "password": password, "birth_date": birth_date})
    assert r.status_code == 201, r.text
    body = r.json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    return body


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tails of the api and worker logs to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name in ("api", "worker"):
        proc = item.funcargs.get(name) if hasattr(item, "funcargs") else None
        if callable(getattr(proc, "log", None)):  # a process (an in-process Worker has no log of its own)
            report.sections.append((f"{name} log", proc.log()[-6000:]))
