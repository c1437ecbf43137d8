"""Chromium's fake camera and microphone, fed the cameo tests' synthetic capture.

Chromium plays a Y4M file as its camera (``--use-file-for-fake-video-capture``)
and a WAV file as its microphone (``--use-file-for-fake-audio-capture``). The
paths are fixed when the browser starts, but each file is opened again every
time a page starts capturing (``getUserMedia``), from its first frame, and
looped at its end. So a test launches the browser with two paths holding a
neutral placeholder and lets the app ask the api for a challenge; the test
reads the challenge from the api's answer on its way to the page (Playwright
routes that one request through the test), writes a capture that answers it
to the same paths, and only then hands the answer to the page, which opens
the camera once it has it. A retry with a new challenge writes the files
again the same way.

The file is laid out for the app's recording flow (camera on, a 3 s
countdown, then a fixed-length recording): ``LEAD_S`` of a still, silent,
frontal face covers the countdown and the time it takes to press Record;
then the capture of ``tests/cameos/capture.py`` (the astronaut turns through
the moves and says the digits, spoken by eSpeak NG); then a still tail longer
than any slack, so the loop never brings a second turn into the recording.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import cv2
import numpy as np

from tests.cameos.capture import CANVAS, capture_seconds, head_rig, mouth_track, turn_schedule, yaw_at

FPS = 15
SAMPLE_RATE = 48000
LEAD_S = 4.3  # the camera coming on, the press of Record and the countdown, before anything happens
TAIL_S = 6.0  # still and silent after the capture
SPEECH_LEAD_S = 1.0  # inside the capture, before the first digit


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)  # a capture starting now sees the old file or the new one, never half of one


def _y4m_header(width: int, height: int, fps: int) -> bytes:
    return f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode()


def _yuv(rgb: np.ndarray) -> bytes:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()


def write_y4m(path: Path, frames, width: int, height: int, fps: int = FPS) -> None:
    def write(f) -> None:
        f.write(_y4m_header(width, height, fps))
        for frame in frames:
            f.write(b"FRAME\n")
            f.write(frame if isinstance(frame, bytes) else _yuv(frame))

    _write_atomic(path, write)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()

    def write(f) -> None:
        with wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sample_rate)
            w.writeframes(pcm)

    _write_atomic(path, write)


def write_placeholder(video: Path, audio: Path, seconds: float = 2.0) -> None:
    """A still frontal face and room noise: what the camera shows before a challenge is known."""
    still = _yuv(head_rig("astronaut").render(0.0, 0.0))
    write_y4m(video, (still for _ in range(int(seconds * FPS))), *CANVAS)
    rng = np.random.default_rng(1)
    write_wav(audio, (0.001 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32))


def write_answer(video: Path, audio: Path, digits: str, moves: list[str], *, person: str = "astronaut") -> float:
    """Write a capture answering (digits, moves) to the fake camera and microphone files;
    returns its length in seconds."""
    from tests.cameos.speech_clips import speak_digits

    speech = speak_digits(digits, voice="en-us", rate="normal", noise_db=35.0, sample_rate=SAMPLE_RATE, lead_s=SPEECH_LEAD_S, tail_s=0.6)
    capture_s = capture_seconds(moves, len(speech) / SAMPLE_RATE)
    total_s = LEAD_S + capture_s + TAIL_S
    n_audio = int(round(total_s * SAMPLE_RATE))
    sound = np.zeros(n_audio, dtype=np.float32)
    rng = np.random.default_rng(2)
    floor = float(np.sqrt(np.mean(speech[: int(0.3 * SAMPLE_RATE)] ** 2))) or 1e-3  # the clip's own noise floor
    sound += (floor * rng.standard_normal(n_audio)).astype(np.float32)
    start = int(LEAD_S * SAMPLE_RATE)
    sound[start : start + len(speech)] = speech

    n = int(round(total_s * FPS))
    times = np.arange(n) / FPS
    schedule = turn_schedule(moves, start_s=LEAD_S + 0.8)
    # the mouth follows the capture's own sound, measured over the capture alone (as make_capture does)
    mouth = np.zeros(n)
    inside = (times >= LEAD_S) & (times < LEAD_S + capture_s)
    span = sound[start : start + int(capture_s * SAMPLE_RATE)]
    mouth[inside] = mouth_track(span, SAMPLE_RATE, times[inside] - LEAD_S)
    rig = head_rig(person)
    still = _yuv(rig.render(0.0, 0.0))

    def frames():
        for i, t in enumerate(times):
            yaw = yaw_at(t, schedule)
            if abs(yaw) < 1e-6 and mouth[i] <= 0.02:
                yield still
            else:
                yield rig.render(yaw, float(mouth[i]))

    write_y4m(video, frames(), *CANVAS)
    write_wav(audio, sound)
    return total_s
