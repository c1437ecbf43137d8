"""The official ``openai`` package's Videos client against a live api and
worker: create (multipart, as the SDK sends it), poll, download the video,
thumbnail and spritesheet, remix, extend, list with pagination, the error
shape, and delete.

The SDK types ``seconds`` as "4" | "8" | "12" and ``size`` as OpenAI's four
sizes, but validates neither at run time; the tiny CPU preset is asked for
"1" second at "64x64"."""

from __future__ import annotations

import io

import av
import openai
import pytest
from openai import AsyncOpenAI
from PIL import Image

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


async def test_errors_have_openai_shape(client):
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.create(prompt="a tall ship", seconds="4", size="720x1280")
    err = info.value
    assert err.status_code == 400 and err.code == "invalid_size" and "64x64" in err.message
    assert err.body["details"]["sizes"]  # the sizes this server makes
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await client.videos.create(prompt="a naked person dancing", **SMALL)
    assert info.value.code == "prompt_refused"
    with pytest.raises(openai.BadRequestError) as info:
        await client.videos.edit(prompt="make it blue", video=("v.mp4", b"\x00" * 64, "video/mp4"))
    assert info.value.code == "unsupported"
    with pytest.raises(openai.NotFoundError):
        await client.videos.remix("video_01nothinghere", prompt="x")
    with pytest.raises(openai.NotFoundError):
        await client.videos.download_content("video_01nothinghere")
    assert [v async for v in client.videos.list()] == []
