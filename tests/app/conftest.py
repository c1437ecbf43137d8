"""The browser tests' fixtures: an api and a worker of their own (a fresh
namespace, so feeds hold only what these tests make, and the tiny model),
Debian's Chromium driven by Playwright with a fake camera and microphone,
and helpers for signing up and taking screenshots.

Chromium is Debian's package (``make install`` installs it when run as root);
Playwright's own browser downloads are never used. Where Chromium or
Playwright cannot be had, these tests skip with the reason, except under CI
as root, where the install step puts Chromium in and a missing browser is a
failure."""

from __future__ import annotations

import asyncio

import json
import os
import shutil
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest

from tests.cameos.helpers import erase_recorded_faces

from tests.procs import start_api, start_worker

PHONE = {"width": 390, "height": 844}
PREVIEW_STEPS = 100
PASSWORD = "correct horse battery"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
SCREENSHOTS = os.environ.get("FABULA_SCREENSHOTS")  # a folder: the flows save phone-size screenshots there


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") and hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.fail(f"browser tests cannot run under CI: {reason} (make install installs chromium as root)")
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason}; install Debian's chromium (make install as root does it)")


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    path = chromium_path()
    if path is None:
        _unavailable("no chromium binary on PATH")
    return path


@pytest.fixture(scope="module")
def app_settings(settings):
    return msgspec.structs.replace(settings, namespace="t" + uuid.uuid4().hex[:10])


@pytest.fixture(scope="module")
def app_api(app_settings, tmp_root):
    proc = start_api(app_settings, tmp_root / "logs-app")
    yield proc
    proc.stop()
    # the cameo recorded through the browser is the astronaut's face: one person, one cameo holds
    # across accounts (and namespaces share collections on nx-27017), so later recordings need it gone
    asyncio.run(erase_recorded_faces(app_settings))


@pytest.fixture(scope="module")
def app_worker(app_settings, tmp_root, app_api):
    # the tiny model's 4 steps take a tenth of a second, less than a WebRTC peer takes to connect:
    # more steps make a job last long enough for its live preview to be watched (a deployment's setting)
    proc = start_worker(app_settings, tmp_root / "logs-app", name="app-worker", FABULA_GEN_STEPS=str(PREVIEW_STEPS))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def camera_files(tmp_path_factory):
    from tests.app.fake_camera import write_placeholder

    folder = tmp_path_factory.mktemp("camera")
    video, audio = folder / "camera.y4m", folder / "microphone.wav"
    write_placeholder(video, audio)
    return video, audio


@pytest.fixture(scope="module")
def browser(chromium, camera_files):
    """One Chromium for the module, its fake camera and microphone reading ``camera_files``."""
    from playwright.sync_api import sync_playwright

    video, audio = camera_files
    args = [*BROWSER_ARGS, f"--use-file-for-fake-video-capture={video}", f"--use-file-for-fake-audio-capture={audio}"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=args, headless=True)
        yield b
        b.close()


def phone(browser, base_url: str, session: dict | None = None):
    """A new phone-sized browser context (its own localStorage: one person), and its page;
    with ``session``, signed in as that user once, as if they had signed in before."""
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=base_url)
    ctx.set_default_timeout(60_000)
    if session is not None:
        stored = json.dumps({"token": session["token"], "user": session["user"]})
        # the first page of the context only: a later sign-out stays signed out across reloads
        ctx.add_init_script(
            "if (!localStorage.getItem('fabula.test.seeded')) {"
            f" localStorage.setItem('fabula.session', {json.dumps(stored)}); localStorage.setItem('fabula.test.seeded', '1'); }}"
        )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # the app's own errors; an HTTP error answer (a refusal, a wrong password) is the app working
    page.on("console", lambda m: m.type == "error" and "Failed to load resource" not in m.text and errors.append(f"console: {m.text}"))
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


def api_signup(base_url: str, handle: str | None = None) -> dict:
    handle = handle or "u" + uuid.uuid4().hex[:10]
    r = httpx.post(base_url + "/v1/auth/signup", json={"handle": handle, "password": PASSWORD, "birth_date": "1990-01-01"}, timeout=120)
    assert r.status_code == 201, r.text
    body = r.json()
    body["headers"] = {"Authorization": f"Bearer {body['token']}"}
    return body


def shot(page, name: str, settle_ms: int = 400) -> None:
    """A phone-size screenshot for docs/screenshots, when FABULA_SCREENSHOTS names a folder."""
    if not SCREENSHOTS:
        return
    import io

    from PIL import Image

    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(settle_ms)  # transitions settle
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB").resize((PHONE["width"], PHONE["height"]), Image.LANCZOS)
    # a palette of 160 colours keeps a phone screen crisp at a fraction of the bytes
    image.quantize(colors=160, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(folder / f"{name}.png", optimize=True)
