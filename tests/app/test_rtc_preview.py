"""``clients/web/js/rtc_preview.js`` in Chromium against a real api: the
page's RTCPeerConnection gets a job's previews (published by hand, as the
worker does) in a ``<video>`` element, and ``RtcPreviewSource`` shows the
socket's JPEG frames while WebRTC connects, keeps them when it does not
connect in time (here a page whose answers never land, as when UDP is
blocked), and turns them off when the track takes over."""

from __future__ import annotations

import asyncio
import io
import threading

from PIL import Image

from core.stores import open_stores
from gen import jobs, previews
from tests.app.conftest import api_signup, phone

COLOURS = [(210, 40, 40), (40, 60, 210), (40, 190, 60)]


def jpeg(rgb) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), rgb).save(out, format="JPEG", quality=95)
    return out.getvalue()


def run(coro_fn):
    """Run an async helper on a loop of its own (Playwright's sync API holds this thread's)."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(coro_fn())))
    thread.start()
    thread.join(60)
    assert out, "the helper did not finish"
    return out[0]


def make_job(settings, owner_id: str) -> str:
    async def make() -> str:
        stores = open_stores(settings)
        try:
            job = await jobs.create_job(stores, owner_id=owner_id, prompt="a kite", model="tiny", width=64, height=64, seconds=1, steps=8)
            return job.id
        finally:
            await stores.close()

    return run(make)


def publish(settings, video_id: str, step: int, rgb) -> None:
    async def send() -> None:
        stores = open_stores(settings)
        try:
            await previews.publish(stores, previews.Preview(video_id=video_id, step=step, steps=8, progress=step * 10, image=jpeg(rgb)))
        finally:
            await stores.close()

    run(send)


def job_page(app_api, app_settings, browser, first_colour=None):
    """A signed-in phone page on the app, and a job of its user (with a first preview when given)."""
    me = api_signup(app_api.url)
    video_id = make_job(app_settings, me["user"]["id"])
    if first_colour is not None:
        publish(app_settings, video_id, 1, first_colour)
    page = phone(browser, app_api.url, me)
    page.goto("/")
    return me, video_id, page


def module_url(page) -> str:
    return page.evaluate("document.querySelector('script[type=module]').src.replace(/main\\.js$/, 'rtc_preview.js')")


WATCH = """async ([url, videoId, token]) => {
    const { openRtcPreview } = await import(url);
    const video = document.createElement("video");
    document.body.appendChild(video);
    const canvas = document.createElement("canvas");
    window.rtcColours = [];
    window.rtcPeer = await openRtcPreview(videoId, token, video, { timeoutMs: 10000 });
    const sample = () => {
        if (video.videoWidth) {
            canvas.width = video.videoWidth; canvas.height = video.videoHeight;
            const ctx = canvas.getContext("2d");
            ctx.drawImage(video, 0, 0);
            const d = ctx.getImageData(video.videoWidth >> 1, video.videoHeight >> 1, 1, 1).data;
            window.rtcColours.push([d[0], d[1], d[2]]);
        }
        video.requestVideoFrameCallback(sample);
    };
    video.requestVideoFrameCallback(sample);
    return window.rtcPeer.peerId;
}"""

SEEN = """(rgb) => window.rtcColours.some((c) => c.every((v, i) => Math.abs(v - rgb[i]) < 30))"""


def test_a_page_watches_a_jobs_previews_over_webrtc(app_api, app_settings, browser):
    me, video_id, page = job_page(app_api, app_settings, browser, COLOURS[0])
    peer_id = page.evaluate(WATCH, [module_url(page), video_id, me["token"]])
    assert peer_id.startswith("rtc_")
    page.wait_for_function(SEEN, arg=list(COLOURS[0]))  # the newest preview at once
    for step, rgb in enumerate(COLOURS[1:], start=2):
        publish(app_settings, video_id, step, rgb)
        page.wait_for_function(SEEN, arg=list(rgb))  # then each new step
    page.evaluate("window.rtcPeer.close()")
    assert page.js_errors == []


SOURCE = """async ([url, videoId, timeoutMs, hang]) => {
    if (hang) {
        // answers never land: the peer cannot connect, as behind a firewall that drops UDP
        RTCPeerConnection.prototype.setRemoteDescription = () => new Promise(() => {});
    }
    const { RtcPreviewSource } = await import(url);
    const { socket } = await import(url.replace(/rtc_preview\\.js$/, "socket.js"));
    socket.connect();
    window.socketFrames = 0; // binary frames the socket receives, whoever watches them
    const receive = socket._receive.bind(socket);
    socket._receive = (data) => { if (typeof data !== "string") window.socketFrames += 1; receive(data); };
    const source = new RtcPreviewSource(socket, videoId, { timeoutMs });
    // as the create screen does: the subscription asks for the socket's frames when the source wants them
    await socket.request("subscribe", { video_id: videoId, previews: source.viaSocket });
    window.frames = [];
    window.started = source.start((frame) => window.frames.push(frame.image instanceof HTMLVideoElement ? "webrtc" : "websocket"));
    window.source = source;
    return [source.kind, source.viaSocket];
}"""

STATE = "() => [window.source.kind, window.source.viaSocket, window.source.bridge !== null]"


def test_the_sockets_frames_show_while_webrtc_connects(app_api, app_settings, browser):
    _, video_id, page = job_page(app_api, app_settings, browser)
    assert page.evaluate(SOURCE, [module_url(page), video_id, 10_000, True]) == ["webrtc", True]
    publish(app_settings, video_id, 1, COLOURS[2])
    page.wait_for_function("() => window.frames.includes('websocket')")
    assert page.evaluate(STATE) == ["webrtc", True, True]  # still trying WebRTC, the socket's frames meanwhile
    page.evaluate("window.source.stop()")


def test_the_source_keeps_the_sockets_frames_when_webrtc_does_not_connect(app_api, app_settings, browser):
    _, video_id, page = job_page(app_api, app_settings, browser)
    page.evaluate(SOURCE, [module_url(page), video_id, 800, True])
    page.evaluate("window.started")
    assert page.evaluate(STATE) == ["websocket", True, True]
    publish(app_settings, video_id, 1, COLOURS[2])
    page.wait_for_function("() => window.frames.includes('websocket')")
    page.evaluate("window.source.stop()")
    assert page.js_errors == []


def test_the_webrtc_track_takes_over_and_turns_the_sockets_frames_off(app_api, app_settings, browser):
    _, video_id, page = job_page(app_api, app_settings, browser, COLOURS[0])
    page.evaluate(SOURCE, [module_url(page), video_id, 10_000, False])
    page.evaluate("window.started")
    page.wait_for_function("() => window.frames.includes('webrtc')")
    assert page.evaluate(STATE) == ["webrtc", False, False]
    # the handover's subscribe has been answered once a ping sent after it is: frames after that are not for us
    page.evaluate("""async (url) => {
        const { socket } = await import(url.replace(/rtc_preview\\.js$/, "socket.js"));
        await socket.request("ping", {});
        window.framesBefore = window.socketFrames;
        window.trackFramesBefore = window.frames.length;
    }""", module_url(page))
    publish(app_settings, video_id, 2, COLOURS[1])
    page.wait_for_function("() => window.frames.length > window.trackFramesBefore")  # the new step, on the track
    page.wait_for_timeout(1000)
    assert page.evaluate("window.socketFrames") == page.evaluate("window.framesBefore")
    page.evaluate("window.source.stop()")
    assert page.js_errors == []
