"""Faces in a frame: dlib's HOG detector, 68-point landmarks and the 128-d
ResNet descriptor, with the models that ship in ``face-recognition-models``.

The models load once per process, on first use. The package's own
``__init__`` imports ``pkg_resources`` (gone from current setuptools), so its
``models/`` folder is located without importing it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_PACKAGE = "face_recognition_models"
_LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
_DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"

# dlib's usual threshold: two descriptors closer than this are the same person.
SAME_PERSON_DISTANCE = 0.6


class FaceModelsMissing(RuntimeError):
    """face-recognition-models is not installed, or its model files are missing."""


@dataclass(frozen=True, slots=True)
class Box:
    """A face's bounding box in pixels, with the detector's confidence."""

    left: int
    top: int
    right: int
    bottom: int
    score: float = 0.0

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)


def models_dir() -> str:
    """The ``models/`` folder of face-recognition-models, found without importing the package."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelsMissing("the face-recognition-models package is not installed")
    for root in spec.submodule_search_locations:
        folder = os.path.join(root, "models")
        if os.path.isfile(os.path.join(folder, _LANDMARKS_68)):
            return folder
    raise FaceModelsMissing("face-recognition-models has no models/ folder with the 68-point predictor")


class _Models:
    def __init__(self) -> None:
        import dlib

        folder = models_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(os.path.join(folder, _LANDMARKS_68))
        self.encoder = dlib.face_recognition_model_v1(os.path.join(folder, _DESCRIPTOR))
        self.rectangle = dlib.rectangle


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> _Models:
    return _Models()


def models() -> _Models:
    """The process's dlib models, loaded on first use."""
    with _load_lock:
        return _load()


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("expected an RGB uint8 image of shape (h, w, 3)")
    return np.ascontiguousarray(image)


def detect_faces(image: np.ndarray, *, upsample: int = 0, threshold: float = 0.0) -> list[Box]:
    """Faces in an RGB image, largest first. ``upsample`` doubles the image that many times
    (finds smaller faces, 4x the cost each); ``threshold`` raises or lowers the detector's
    confidence cut (0 is dlib's default)."""
    m = models()
    rects, scores, _kinds = m.detector.run(_rgb(image), upsample, threshold)
    boxes = [Box(r.left(), r.top(), r.right(), r.bottom(), float(s)) for r, s in zip(rects, scores)]
    boxes.sort(key=lambda b: b.area, reverse=True)
    return boxes


def _rect(box: Box):
    return models().rectangle(int(box.left), int(box.top), int(box.right), int(box.bottom))


def landmarks(image: np.ndarray, box: Box) -> np.ndarray:
    """The 68 landmarks (iBUG 300-W order) of the face in ``box``, float (68, 2) x, y pixels."""
    shape = models().predictor(_rgb(image), _rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def descriptor(image: np.ndarray, box: Box) -> np.ndarray:
    """The face's 128-d descriptor (Euclidean distance < ``SAME_PERSON_DISTANCE`` means the
    same person)."""
    m = models()
    img = _rgb(image)
    shape = m.predictor(img, _rect(box))
    return np.asarray(m.encoder.compute_face_descriptor(img, shape), dtype=np.float64)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two face descriptors."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
