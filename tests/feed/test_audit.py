"""The audit log over HTTP: reports, prompt refusals and cameo permission
changes each leave an entry (who, what, when, why) that administrators page
through, newest first; video creation is limited per user (429 with
Retry-After, before the prompt is even moderated)."""

from __future__ import annotations

import httpx
import pytest

from cameos import store as cameo_store
from core.media_store import open_media_store
from tests.conftest import signup
from tests.procs import start_api
from tests.accounts.test_auth_routes import assert_error
from tests.feed.test_reports import admin_user

REFUSED = "a naked child on a bed"


async def audit_of(http: httpx.AsyncClient, admin: dict, **params) -> list[dict]:
    r = await http.get("/v1/admin/audit", params={"limit": 50, **params}, headers=admin["headers"])
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def test_a_refused_prompt_is_audited_and_writes_nothing_else(http, stores):
    me = await signup(http)
    admin = await admin_user(http, stores)
    r = await http.post("/v1/videos", json={"prompt": REFUSED, "model": "tiny"}, headers=me["headers"])
    assert r.status_code == 422, r.text
    mine = [e for e in await audit_of(http, admin, action="prompt.refused") if e["actor_id"] == me["user"]["id"]]
    assert len(mine) == 1 and mine[0]["details"]["prompt"] == REFUSED and mine[0]["details"]["category"]
    listed = await http.get("/v1/videos", headers=me["headers"])
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_cameo_permission_changes_and_grants_are_audited(http, stores, settings):
    owner, friend = await signup(http), await signup(http)
    admin = await admin_user(http, stores)
    cameo = await cameo_store.create_cameo(
        stores, open_media_store(settings), owner_id=owner["user"]["id"], kind="human", name="me", mention=None,
        embedding=[0.1] * 128, frames=[b"\xff\xd8frame"], voice=None,
    )
    r = await http.patch(f"/v1/cameos/{cameo.id}", json={"permission": "approved", "paused": True}, headers=owner["headers"])
    assert r.status_code == 200, r.text
    assert (await http.patch(f"/v1/cameos/{cameo.id}", json={"paused": False}, headers=owner["headers"])).status_code == 200
    assert (await http.post(f"/v1/cameos/{cameo.id}/requests", headers=friend["headers"])).status_code == 200
    r = await http.post(f"/v1/cameos/{cameo.id}/grants/{friend['user']['id']}/approve", headers=owner["headers"])
    assert r.status_code == 200, r.text
    r = await http.post(f"/v1/cameos/{cameo.id}/grants/{friend['user']['id']}/revoke", headers=owner["headers"])
    assert r.status_code == 200, r.text
    # someone else's cameo: refused, and nothing audited
    assert (await http.patch(f"/v1/cameos/{cameo.id}", json={"permission": "everyone"}, headers=friend["headers"])).status_code in (403, 404)
    entries = [e for e in await audit_of(http, admin) if e["target_id"] == cameo.id]
    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("cameo.grant.revoke", owner["user"]["id"]),
        ("cameo.grant.approve", owner["user"]["id"]),
        ("cameo.paused", owner["user"]["id"]),
        ("cameo.paused", owner["user"]["id"]),
        ("cameo.permission", owner["user"]["id"]),
    ]
    assert entries[0]["details"] == {"user_id": friend["user"]["id"]} and entries[4]["details"] == {"permission": "approved"}


async def test_the_audit_log_pages_newest_first(http, stores):
    admin = await admin_user(http, stores)
    me = await signup(http)
    for _ in range(3):
        assert (await http.post("/v1/videos", json={"prompt": REFUSED, "model": "tiny"}, headers=me["headers"])).status_code == 422
    first = await http.get("/v1/admin/audit", params={"limit": 2}, headers=admin["headers"])
    body = first.json()
    assert len(body["data"]) == 2 and body["next_cursor"] == body["data"][1]["id"]
    second = await http.get("/v1/admin/audit", params={"limit": 2, "cursor": body["next_cursor"]}, headers=admin["headers"])
    ids = [e["id"] for e in body["data"] + second.json()["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert_error(await http.get("/v1/admin/audit", params={"cursor": "nonsense"}, headers=admin["headers"]), 400)
    assert_error(await http.get("/v1/admin/audit", headers=me["headers"]), 403, "not_admin")


@pytest.fixture(scope="module")
def tight_api(settings, tmp_root):
    proc = start_api(settings, tmp_root / "logs", FABULA_RATE_VIDEOS="1/1h")
    yield proc
    proc.stop()


async def test_video_creation_is_rate_limited(tight_api):
    async with httpx.AsyncClient(base_url=tight_api.url, timeout=30) as http:
        me, other = await signup(http), await signup(http)
        assert (await http.post("/v1/videos", json={"prompt": REFUSED, "model": "tiny"}, headers=me["headers"])).status_code == 422
        refused = await http.post("/v1/videos", json={"prompt": "a lighthouse at dusk", "model": "tiny"}, headers=me["headers"])
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0 and refused.json()["error"]["code"] == "rate_limited"
        # the bucket is per user
        assert (await http.post("/v1/videos", json={"prompt": REFUSED, "model": "tiny"}, headers=other["headers"])).status_code == 422
