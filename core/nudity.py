"""NudeNet's exposed-part detector, offline.

The ONNX detector (``320n.onnx``) ships inside the ``nudenet`` wheel and runs
on onnxruntime's CPU provider. It is loaded once per process, on first use,
and guarded by a lock (one onnxruntime session serves every thread, but its
pre- and post-processing in ``nudenet`` is not re-entrant).

``detect`` is blocking (about 25 ms per picture on one core): callers on an
event loop run it in a thread. What a detection means for a request is
decided in ``policy.images``."""

from __future__ import annotations

import threading
from typing import Any

import msgspec
import numpy as np

_lock = threading.Lock()
_detector: Any = None


class Detection(msgspec.Struct, frozen=True, kw_only=True):
    label: str  # NudeNet's class name, e.g. "FEMALE_BREAST_EXPOSED", "FACE_MALE"
    score: float  # 0..1
    box: tuple[int, int, int, int]  # x, y, width, height in the picture's pixels


def _load() -> Any:
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from nudenet import NudeDetector

                _detector = NudeDetector()
    return _detector


def warm_up() -> None:
    """Load the detector now (a process that checks media calls this at start)."""
    _load()


def detect(rgb: np.ndarray) -> list[Detection]:
    """Every part NudeNet finds in an RGB uint8 picture (H×W×3), best first."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("detect wants an H×W×3 RGB picture")
    detector = _load()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    with _lock:
        found = detector.detect(bgr)
    out = [
        Detection(label=str(d["class"]), score=float(d["score"]), box=tuple(int(v) for v in d["box"]))  # type: ignore[arg-type]
        for d in found
    ]
    out.sort(key=lambda d: d.score, reverse=True)
    return out
