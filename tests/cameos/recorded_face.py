"""A real cameo of the astronaut's face, recorded through the real liveness
check (tests/cameos/capture.py turns and voices the photo), stored straight
in the cameo store; and the pictures the likeness tests show the checks."""

from __future__ import annotations

import asyncio
import io

import cv2
import numpy as np
from PIL import Image

from cameos import store
from cameos.liveness.verify import verify_recording
from cameos.store import Cameo
from tests.cameos.capture import astronaut_head, hopper_head, make_capture
from tests.cameos.speech_clips import speak_digits

DIGITS = "48213"  # digits the speech check accepts from this voice (tests/cameos/test_routes.py)
MOVES = ["left", "right"]


def record_astronaut(path: str) -> str:
    audio = speak_digits(DIGITS, voice="en-us", rate="normal", noise_db=35.0, lead_s=1.0, tail_s=0.6)
    return make_capture(path, moves=MOVES, audio=audio, sample_rate=16000, variant="live", person="astronaut")


async def astronaut_cameo(stores, media, owner_id: str, folder) -> Cameo:
    """The astronaut's face as ``owner_id``'s verified cameo: recorded, checked live, stored."""
    path = record_astronaut(str(folder / "astronaut.mp4"))
    report = await asyncio.to_thread(verify_recording, path, DIGITS, MOVES)
    assert report.ok and report.embedding, report.details()
    return await store.create_cameo(
        stores, media, owner_id=owner_id, kind="human", name="Astronaut", mention=None,
        embedding=list(report.embedding), frames=list(report.reference_jpegs), voice=report.voice_wav,
    )


def scene(head: np.ndarray, size: tuple[int, int] = (320, 240), scale: float = 0.9) -> np.ndarray:
    """``head`` on a plain background of ``size`` (width, height), ``scale`` of its height."""
    width, height = size
    h = int(height * scale)
    w = int(head.shape[1] * h / head.shape[0])
    out = np.full((height, width, 3), 90, dtype=np.uint8)
    x0, y0 = (width - w) // 2, (height - h) // 2
    out[y0 : y0 + h, x0 : x0 + w] = cv2.resize(head, (w, h), interpolation=cv2.INTER_AREA)
    return out


def astronaut_frames() -> list[np.ndarray]:
    """Frames of a finished video showing the astronaut: one at 320x240, one as tiny as the tiny presets make."""
    return [scene(astronaut_head()), scene(astronaut_head(), (64, 64), 1.0)]


def hopper_frame() -> np.ndarray:
    return scene(hopper_head())


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def jpeg(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=90)
    return out.getvalue()
