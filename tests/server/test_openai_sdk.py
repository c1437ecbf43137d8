"""The official ``openai`` package's Videos client against a live api and
worker: create (multipart, as the SDK sends it), poll, download the video,
thumbnail and spritesheet, remix, extend, list with pagination, the error
shape, and delete.

Code written for Sora runs unchanged: every model name, size and length the
SDK's own types allow (read from the installed package) goes through create,
remix and extend, and a video asked for at 720x1280 is delivered at
720x1280. Most other tests ask the tiny CPU preset for "1" second at its own
"64x64" to stay quick."""

from __future__ import annotations

import io
import itertools
import typing

import av
import openai
import pytest
from openai import AsyncOpenAI
from openai.types import Video, VideoModel, VideoSeconds, VideoSize
from PIL import Image

from core.settings import Settings
from server.videos_schema import SizeChoice, resolve_size, served_model
from tests.conftest import signup

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks its Videos methods deprecated

SMALL = {"seconds": "1", "size": "64x64"}


@pytest.fixture
async def client(api, http):
    me = await signup(http)
    async with AsyncOpenAI(base_url=api.url + "/v1", api_key=me["token"], max_retries=0, timeout=60) as c:
        yield c


def png(size=(64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_create_poll_download_remix_extend_delete(client, worker):
    video = await client.videos.create(prompt="a paper boat on a pond", **SMALL)
    assert video.object == "video" and video.status in ("queued", "in_progress") and video.id.startswith("video_")
    assert (video.seconds, video.size, video.progress) == ("1", "64x64", 0)

    raw = await client.videos.with_raw_response.retrieve(video.id)
    parsed = raw.parse()
    if parsed.status in ("queued", "in_progress"):
        assert raw.headers["openai-poll-after-ms"].isdigit()

    done = await client.videos.poll(video.id, poll_interval_ms=200)
    assert done.status == "completed" and done.progress == 100 and done.error is None
    assert done.completed_at >= done.created_at

    mp4 = (await client.videos.download_content(video.id)).content
    assert mp4[4:8] == b"ftyp"
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(video=0))
        assert len(frames) == 9 and (frames[0].width, frames[0].height) == (64, 64)
    thumb = (await client.videos.download_content(video.id, variant="thumbnail")).content
    assert thumb[:3] == b"\xff\xd8\xff" and Image.open(io.BytesIO(thumb)).size == (64, 64)
    sheet = (await client.videos.download_content(video.id, variant="spritesheet")).content
    assert sheet[:3] == b"\xff\xd8\xff" and Image.open(io.BytesIO(sheet)).format == "JPEG"

    remix = await client.videos.remix(video.id, prompt="a paper boat in the rain")
    assert remix.remixed_from_video_id == video.id and remix.status == "queued"
    assert (remix.size, remix.seconds, remix.model) == (done.size, done.seconds, done.model)

    # extend with the video file itself (the SDK uploads it)
    ext = await client.videos.extend(prompt="the boat drifts away", seconds="1", video=("boat.mp4", mp4, "video/mp4"))
    assert ext.status == "queued" and ext.model_extra["reference"] is True and ext.size == "64x64"

    for vid in (remix.id, ext.id, video.id):
        deleted = await client.videos.delete(vid)
        assert (deleted.id, deleted.deleted, deleted.object) == (vid, True, "video.deleted")
        with pytest.raises(openai.NotFoundError) as info:
            await client.videos.retrieve(vid)
        assert info.value.status_code == 404 and info.value.code == "video_not_found"


async def test_input_reference_upload(client):
    video = await client.videos.create(prompt="a blue door", input_reference=("door.png", png(), "image/png"), **SMALL)
    assert video.status == "queued" and video.model_extra["reference"] is True
    await client.videos.delete(video.id)
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.create(prompt="a blue door", input_reference=("door.png", b"not a picture", "image/png"), **SMALL)
    assert info.value.code == "invalid_reference"


async def test_list_pages_with_after_limit_and_has_more(client):
    ids = [(await client.videos.create(prompt=f"scene {i}", **SMALL)).id for i in range(5)]
    try:
        first = await client.videos.list(limit=2)
        assert [v.id for v in first.data] == ids[::-1][:2] and first.has_more is True
        seen = [v.id async for v in client.videos.list(limit=2)]  # the SDK follows last_id with after=
        assert seen == ids[::-1]
        asc = [v.id async for v in client.videos.list(limit=3, order="asc")]
        assert asc == ids
        last = await client.videos.list(limit=2, after=ids[1])
        assert [v.id for v in last.data] == [ids[0]] and last.has_more is False
    finally:
        for vid in ids:
            await client.videos.delete(vid)


async def test_errors_have_openai_shape(client, api):
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.create(prompt="a tall ship", seconds="4", size="100x100")
    err = info.value
    assert err.status_code == 400 and err.code == "invalid_size" and "64x64" in err.message
    assert (err.type, err.param) == ("invalid_request_error", "size")
    assert err.body["details"]["sizes"]  # the sizes this server makes
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.create(prompt="a tall ship", model="sora-9")
    assert (info.value.code, info.value.param) == ("invalid_model", "model") and "sora-2" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.create(prompt="a tall ship", seconds="99")
    assert (info.value.code, info.value.param) == ("invalid_seconds", "seconds")
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await client.videos.create(prompt="a naked person dancing", **SMALL)
    assert (info.value.code, info.value.param, info.value.type) == ("moderation_blocked", "prompt", "invalid_request_error")
    assert info.value.body["details"] == {"category": "sexual", "field": "prompt"}
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.edit(prompt="make it blue", video=("v.mp4", b"\x00" * 64, "video/mp4"))
    assert info.value.code == "unsupported"
    with pytest.raises(openai.NotFoundError) as info:
        await client.videos.remix("video_01nothinghere", prompt="x")
    assert "no video 'video_01nothinghere'" in info.value.message and info.value.code == "video_not_found"
    assert (info.value.type, info.value.param) == ("invalid_request_error", None)
    with pytest.raises(openai.NotFoundError) as info:
        await client.videos.download_content("video_01nothinghere")
    assert "no video 'video_01nothinghere'" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:  # a query parameter out of range
        await client.videos.list(limit=1000)
    assert info.value.type == "invalid_request_error"
    assert [v async for v in client.videos.list()] == []
    async with AsyncOpenAI(base_url=api.url + "/v1", api_key="not a token", max_retries=0) as stranger:
        with pytest.raises(openai.AuthenticationError) as info:
            await stranger.videos.list()
    assert info.value.type == "authentication_error" and info.value.message


# --- Sora code, unchanged -----------------------------------------------------


def literals(kind) -> list[str]:
    """The literal strings a type of the SDK allows (``Union[str, Literal[...]]`` or ``Literal[...]``)."""
    if typing.get_origin(kind) is typing.Literal:
        return list(typing.get_args(kind))
    return [value for arg in typing.get_args(kind) for value in literals(arg)]


MODELS, SIZES, SECONDS = literals(VideoModel), literals(VideoSize), literals(VideoSeconds)


def test_the_sdk_literals_are_read_from_the_package():
    assert "sora-2" in MODELS and "sora-2-pro" in MODELS and len(MODELS) >= 5
    assert set(SIZES) >= {"720x1280", "1280x720", "1024x1792", "1792x1024"}
    assert set(SECONDS) >= {"4", "8", "12"}


def test_sora_sizes_map_onto_each_presets_own_resolution():
    ltx2 = Settings(model="ltx-2", default_size="1280x704", max_video_side=1920)
    # not a multiple of 32: made at 704x1280, delivered at 720x1280
    assert resolve_size("720x1280", ltx2) == SizeChoice(width=704, height=1280, output_width=720, output_height=1280)
    assert resolve_size("1792x1024", ltx2) == SizeChoice(width=1792, height=1024)  # the preset makes it itself
    wan = Settings(model="wan2.1-t2v-1.3b", default_size="832x480", max_video_side=832)
    choice = resolve_size("1024x1792", wan)  # beyond its largest side, 832
    assert (choice.output_width, choice.output_height) == (1024, 1792)
    assert choice.height == 832 and choice.width % 16 == 0 and abs(choice.width / 832 - 1024 / 1792) < 0.05
    for name in MODELS:
        assert served_model(name, wan) == ("wan2.1-t2v-1.3b", name)
    assert served_model("wan2.1-t2v-1.3b", wan) == ("wan2.1-t2v-1.3b", None)


def served_shape(size: str, video) -> None:
    """The frames are made at the tiny preset's own resolution, in the shape asked for."""
    asked_w, asked_h = (int(v) for v in size.split("x"))
    made_w, made_h = (int(v) for v in video.model_extra["generated_size"].split("x"))
    assert made_w % 32 == 0 and made_h % 32 == 0 and max(made_w, made_h) <= 256
    assert (made_w > made_h) == (asked_w > asked_h)


async def test_every_model_size_and_length_of_the_sdk_is_taken(client):
    # every value at least once (the longest list sets the count), each create checked, then deleted
    count = max(len(MODELS), len(SIZES), len(SECONDS))
    combos = list(itertools.islice(zip(itertools.cycle(MODELS), itertools.cycle(SIZES), itertools.cycle(SECONDS)), count))
    for model, size, seconds in combos:
        video = await client.videos.create(prompt="a lantern on a jetty", model=model, size=size, seconds=seconds)
        try:
            assert (video.model, video.size, video.seconds) == (model, size, seconds)
            assert video.model_extra["preset"] == "tiny"
            served_shape(size, video)
            again = await client.videos.retrieve(video.id)
            assert (again.model, again.size, again.seconds) == (model, size, seconds)
        finally:
            await client.videos.delete(video.id)


async def test_sora_sizes_are_delivered_at_the_size_asked_for_and_carried_by_remix_and_extend(client, worker):
    video = await client.videos.create(prompt="a lantern on a jetty", model="sora-2", size="720x1280", seconds="4")
    done = await client.videos.poll(video.id, poll_interval_ms=200)
    assert done.status == "completed", done.error
    assert (done.model, done.size, done.seconds) == ("sora-2", "720x1280", "4")
    mp4 = (await client.videos.download_content(video.id)).content
    with av.open(io.BytesIO(mp4)) as container:
        frames = list(container.decode(video=0))
    assert (frames[0].width, frames[0].height) == (720, 1280)
    assert len(frames) == 33  # 4 s of the tiny preset's 8 fps, 8k + 1
    thumb = Image.open(io.BytesIO((await client.videos.download_content(video.id, variant="thumbnail")).content))
    assert thumb.size == (288, 512)  # the delivered shape, at most 512 on a side

    # each new job is deleted once checked: the worker need not make them
    remix = await client.videos.remix(video.id, prompt="the lantern goes out")
    await client.videos.delete(remix.id)
    assert (remix.model, remix.size, remix.seconds, remix.remixed_from_video_id) == ("sora-2", "720x1280", "4", video.id)
    # the SDK (3.60) sends only a file as ``video``: its own {"id"} form fails
    # in extract_files before any request, so Sora code extends by upload
    for seconds in SECONDS:
        ext = await client.videos.extend(prompt="the lantern drifts", seconds=seconds, video=("clip.mp4", mp4, "video/mp4"))
        await client.videos.delete(ext.id)
        assert (ext.size, ext.seconds, ext.model_extra["reference"]) == ("720x1280", seconds, True)
    # the {"id"} form through the SDK's own transport keeps the source's model and size
    ext = await client.post(
        "/videos/extensions", body={"prompt": "the lantern drifts", "seconds": SECONDS[-1], "video": {"id": video.id}}, cast_to=Video
    )
    await client.videos.delete(ext.id)
    assert (ext.model, ext.size, ext.seconds, ext.model_extra["extend_of"]) == ("sora-2", "720x1280", SECONDS[-1], video.id)
    await client.videos.delete(video.id)
