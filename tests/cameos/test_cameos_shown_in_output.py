"""A cameo the model drew without being asked: a video whose prompt names no
cameo and gives no picture, but whose frames show a verified cameo's face.

When the creator may use that cameo, the video completes and the cameo's
owner co-owns it as if it had been mentioned: the video is among the cameo's
appearances (with the basis that allowed it), the owner is told
(``cameo_used``), the signed manifest lists the consent, and the owner can
remove the video. When the prompt breaches the cameo's restrictions, the
video is refused like a mention would be. The creator's own face is theirs:
nothing is recorded.

The worker runs in process with the real tiny pipeline, the real output
checks and the real likeness check (``cameos.output_likeness``) and
recorder (``cli.worker.record_shown_cameos``); an api process on the same
namespace takes the requests. A test double, ``DrawsTheAstronaut``, runs the
real pipeline and then, for prompts that say ``LIGHTHOUSE``, paints the
astronaut's face (the cameo recorded through the real liveness check) over
every frame: a tiny model cannot be asked to draw a given face."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from cli.worker import likeness_check, record_output_refusal, record_shown_cameos
from core.media_store import open_media_store
from core.stores import open_stores
from gen.provenance import keys, manifest
from gen.worker import Worker
from tests.cameos.capture import astronaut_head
from tests.cameos.helpers import erase_recorded_faces
from tests.cameos.recorded_face import astronaut_cameo, scene
from tests.conftest import signup
from tests.gen.in_process import Retouched, finished, make_video, running
from tests.gen.test_queue import private_settings
from tests.procs import start_api

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LIGHTHOUSE = "by the old lighthouse"


class DrawsTheAstronaut(Retouched):
    """The real pipeline; for prompts that say ``LIGHTHOUSE``, its frames show the astronaut."""

    def retouch(self, prompt: str, clip):
        if LIGHTHOUSE in prompt:
            frames = clip.frames.copy()
            frames[:] = scene(astronaut_head(), (frames.shape[2], frames.shape[1]), 1.0)
            clip = msgspec.structs.replace(clip, frames=frames)
        return clip


@pytest.fixture(scope="module")
def wsettings(settings):
    return private_settings(settings, worker_heartbeat_s=0.3)


@pytest.fixture(scope="module")
async def worker(wsettings):
    w = Worker(
        wsettings,
        name="shown-worker",
        likeness_check=likeness_check(),
        record_refusal=record_output_refusal,
        record_shown=record_shown_cameos,
    )
    async with running(w, wrap=DrawsTheAstronaut) as started:
        yield started


@pytest.fixture(scope="module")
def api(wsettings, tmp_root):
    proc = start_api(wsettings, tmp_root / "logs-shown")
    yield proc
    proc.stop()


@pytest.fixture
async def client(api):
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
async def cameo(wsettings, tmp_path_factory):
    """Stores on the module's namespace (the cameo is stored there), and a folder for its recording."""
    stores = open_stores(wsettings)
    yield stores, tmp_path_factory.mktemp("shown-face")
    await stores.close()
    await erase_recorded_faces(wsettings)


async def appearances_of(client, owner, cameo_id: str) -> list[dict]:
    r = await client.get(f"/v1/cameos/{cameo_id}/appearances", headers=owner["headers"])
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def cameo_used(client, owner) -> list[dict]:
    r = await client.get("/v1/notifications", headers=owner["headers"])
    assert r.status_code == 200, r.text
    return [n for n in r.json()["data"] if n["kind"] == "cameo_used"]


async def test_a_cameo_the_model_drew_is_co_owned_by_its_owner(worker, client, cameo, wsettings):
    stores, folder = cameo
    alice, bob, carol = await signup(client), await signup(client), await signup(client)
    recorded = await astronaut_cameo(stores, open_media_store(wsettings), alice["user"]["id"], folder)
    cid = recorded.id
    r = await client.patch(f"/v1/cameos/{cid}", json={"permission": "everyone"}, headers=alice["headers"])
    assert r.status_code == 200, r.text

    # bob names no cameo and gives no picture; the video shows alice's face
    vid = await make_video(client, bob, f"a traveller {LIGHTHOUSE} in soft evening light")
    body = await finished(client, bob, vid)
    assert body["status"] == "completed", body

    # alice sees it among her cameo's appearances, on the basis that allowed it, and was told
    (seen,) = await appearances_of(client, alice, cid)
    assert seen["video_id"] == vid and seen["creator"]["id"] == bob["user"]["id"]
    assert seen["basis"] == "everyone" and seen["state"] == "draft"
    (note,) = await cameo_used(client, alice)
    assert note["cameo_id"] == cid and note["video_id"] == vid and note["actor"]["id"] == bob["user"]["id"]

    # the signed video names the consent behind the likeness
    mp4 = (await client.get(f"/v1/videos/{vid}/content", headers=bob["headers"])).content
    reading = manifest.read_manifest(mp4, "video/mp4", trust_anchors=keys.trust_anchors(wsettings))
    assert reading.state == "valid" and reading.trusted, reading
    assert reading.claims["consent"]["cameos"] == [
        {"cameo_id": cid, "mention": "@" + alice["user"]["handle"], "basis": "everyone", "grant_id": None}
    ]

    # bob publishes it; someone else cannot remove it through alice's cameo; alice can
    r = await client.post("/v1/posts", json={"video_id": vid}, headers=bob["headers"])
    assert r.status_code in (200, 201), r.text
    r = await client.delete(f"/v1/cameos/{cid}/appearances/{vid}", headers=carol["headers"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_cameo_owner", r.text
    r = await client.delete(f"/v1/cameos/{cid}/appearances/{vid}", headers=alice["headers"])
    assert r.status_code == 200, r.text
    assert (await client.get(f"/v1/videos/{vid}", headers=bob["headers"])).status_code == 404
    assert await appearances_of(client, alice, cid) == []

    # the prompt breaches the cameo's restrictions: refused, as a mention would be, and nothing recorded
    r = await client.patch(f"/v1/cameos/{cid}", json={"restrictions": ["political"]}, headers=alice["headers"])
    assert r.status_code == 200, r.text
    vid = await make_video(client, bob, f"an election rally {LIGHTHOUSE}")
    body = await finished(client, bob, vid)
    assert body["status"] == "failed" and body["error"]["code"] == "moderation_blocked", body
    assert await appearances_of(client, alice, cid) == []
    assert len(await cameo_used(client, alice)) == 1

    # alice's own face in her own video: hers to use, nothing recorded, nobody told
    vid = await make_video(client, alice, f"a walk {LIGHTHOUSE}")
    assert (await finished(client, alice, vid))["status"] == "completed"
    assert await appearances_of(client, alice, cid) == []
    assert len(await cameo_used(client, alice)) == 1
