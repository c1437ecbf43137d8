"""Output moderation in the worker: a clean clip completes; a clip whose sound
track says something harmful, or that shows a face the job may not show, ends
``failed`` with ``moderation_blocked``, nothing of it is stored or served, no
post can be made from it, and the refusal is in the audit log.

An in-process worker with the real tiny pipeline and the real checks runs in
a namespace of its own, beside an api process on the same namespace (so the
videos are made through ``POST /v1/videos`` and read back through the
routes). To give the checks something to refuse, the pipeline is wrapped by a
test double, ``Scripted``: it runs the real tiny pipeline and then, for the
prompts a test names, replaces the clip's sound track with speech synthesised
by eSpeak NG or its frames with a real photograph of a face. The checks
themselves are not doubled: PocketSphinx transcribes that track and the text
moderation refuses it; NudeNet sees that face. The likeness check is the
worker's injected hook (the cameos' own check is another module's); here a
small stand-in with a real rule fills it: NudeNet's face labels on the
sampled frames, refused unless the job may show the test's cameo."""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import pytest

from cli.worker import record_output_refusal
from core.media_store import LocalMediaStore
from core.nudity import detect
from core.stores import open_stores
from feed import audit
from gen import events, jobs, queue
from gen.worker import Worker
from policy.decision import Decision
from policy.face_likeness import OutputLikeness
from tests.conftest import signup
from tests.gen.in_process import Retouched, finished, make_video, running
from tests.gen.test_output_checks import HARMFUL_SPEECH, head, spoken_track
from tests.gen.test_queue import poll, private_settings
from tests.procs import start_api

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEAKS_HARM = "a quiet kitchen at dawn, someone talking"
SHOWS_A_FACE = "a portrait in soft light"
THE_CAMEO = "cameo_astronaut"


class Scripted(Retouched):
    """The real pipeline; for the prompts named, its clip's sound or frames replaced (see the module docstring)."""

    def retouch(self, prompt: str, clip):
        if SPEAKS_HARM in prompt:
            seconds = clip.audio.shape[1] / clip.sample_rate
            clip = msgspec.structs.replace(clip, audio=spoken_track(HARMFUL_SPEECH, seconds=seconds, sample_rate=clip.sample_rate))
        if SHOWS_A_FACE in prompt:
            frames = clip.frames.copy()
            frames[:] = head(frames.shape[1])
            clip = msgspec.structs.replace(clip, frames=frames)
        return clip


LIKENESS_CALLS: list[tuple[str, int, list[str]]] = []


async def face_without_cameo(stores, owner_id: str, prompt: str, frames: list, allowed_cameo_ids: list[str]) -> OutputLikeness:
    """Stand-in likeness check: a face NudeNet sees on a sampled frame is refused
    unless the job may show ``THE_CAMEO``."""
    LIKENESS_CALLS.append((owner_id, len(frames), list(allowed_cameo_ids)))
    for frame in frames:
        found = await asyncio.to_thread(detect, frame)
        if any(d.label.startswith("FACE_") and d.score >= 0.5 for d in found) and THE_CAMEO not in allowed_cameo_ids:
            return OutputLikeness(refusal=Decision.refuse("likeness", "The video shows a face that is not one of your cameos."))
    return OutputLikeness()


@pytest.fixture(scope="module")
def wsettings(settings):
    return private_settings(settings, worker_heartbeat_s=0.3)


@pytest.fixture(scope="module")
async def checked_worker(wsettings):
    worker = Worker(wsettings, name="oc-worker", likeness_check=face_without_cameo, record_refusal=record_output_refusal)
    async with running(worker, wrap=Scripted) as w:
        yield w


@pytest.fixture(scope="module")
def private_api(wsettings, tmp_root):
    proc = start_api(wsettings, tmp_root / "logs")
    yield proc
    proc.stop()


@pytest.fixture
async def client(private_api):
    # the api loads its prompt classifier on the first prompt: slow on a busy machine
    async with httpx.AsyncClient(base_url=private_api.url, timeout=120) as c:
        yield c


@pytest.fixture
async def wstores(wsettings):
    s = open_stores(wsettings)
    yield s
    await s.close()


async def assert_blocked(client, me, wstores, wsettings, video_id: str, check: str, category: str) -> None:
    body = await finished(client, me, video_id)
    assert body["status"] == "failed", body
    assert body["error"]["code"] == "moderation_blocked", body
    assert category in body["error"]["message"] and check in body["error"]["message"], body
    job = await jobs.get_job(wstores, video_id)
    assert job.status == "failed" and job.attempts == 1 and job.media is None  # no retry: the same seed makes the same clip
    # nothing stored, nothing served, nothing to publish
    store = LocalMediaStore(wsettings.media_root)
    assert not store.exists(video_id, "video") and not store.exists(video_id, "thumbnail")
    for variant in ("video", "thumbnail", "spritesheet"):
        r = await client.get(f"/v1/videos/{video_id}/content", params={"variant": variant}, headers=me["headers"])
        assert r.status_code == 409 and r.json()["error"]["code"] == "video_not_ready", r.text
    r = await client.post("/v1/posts", json={"video_id": video_id}, headers=me["headers"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_not_ready", r.text
    # the failed event names the check and the category
    final = [e for _, e in await events.read(wstores, video_id, "0-0", block_ms=1) if e.type == "status"][-1]
    assert final.status == "failed" and final.error["code"] == "moderation_blocked"
    assert final.error["check"] == check and final.error["category"] == category
    # and the audit log has it, for the administrators
    entries = [e for e in await audit.entries(wstores, before=None, limit=50, action="output.refused") if e.target_id == video_id]
    assert len(entries) == 1, entries
    assert entries[0].details["check"] == check and entries[0].details["category"] == category
    assert entries[0].details["owner_id"] == me["user"]["id"] and entries[0].actor_id == ""


async def test_a_clean_clip_completes_after_its_checks(checked_worker, client, wsettings):
    me = await signup(client)
    vid = await make_video(client, me, "a red fox in snow")
    body = await finished(client, me, vid)
    assert body["status"] == "completed", body
    assert LocalMediaStore(wsettings.media_root).exists(vid, "video")
    r = await client.get(f"/v1/videos/{vid}/content", headers=me["headers"])
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    owner, frames, cameos = LIKENESS_CALLS[-1]  # the likeness hook had the job's sampled frames
    assert owner == me["user"]["id"] and frames == 5 and cameos == []


async def test_harmful_speech_in_the_output_blocks_the_video(checked_worker, client, wstores, wsettings):
    me = await signup(client)
    vid = await make_video(client, me, SPEAKS_HARM)
    await assert_blocked(client, me, wstores, wsettings, vid, check="sound", category="illegal")
    entry = [e for e in await audit.entries(wstores, before=None, limit=50, action="output.refused") if e.target_id == vid][0]
    assert "bomb" in entry.details["transcript"]


async def test_a_face_the_job_may_not_show_blocks_the_video(checked_worker, client, wstores, wsettings):
    me = await signup(client)
    vid = await make_video(client, me, SHOWS_A_FACE)
    await assert_blocked(client, me, wstores, wsettings, vid, check="likeness", category="likeness")
    assert LIKENESS_CALLS[-1][2] == []


async def test_the_same_face_passes_when_the_job_may_show_that_cameo(checked_worker, wstores, wsettings):
    # a job that features the cameo (made directly: the api would check a real cameo's consent)
    me_id = "user_oc" + wsettings.namespace
    job = await jobs.create_job(
        wstores, owner_id=me_id, prompt=SHOWS_A_FACE, model="tiny", width=64, height=64, seconds=4, steps=2, seed=3, cameos=[THE_CAMEO]
    )
    await queue.enqueue(wstores, job)

    async def done():
        current = await jobs.get_job(wstores, job.id)
        return current if current.done else None

    current = await poll(done, timeout=180, what=f"{job.id} to finish")
    assert current.status == "completed", current
    assert LIKENESS_CALLS[-1] == (me_id, 5, [THE_CAMEO])
