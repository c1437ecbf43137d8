"""What the likeness and upload checks cost, on this machine's CPU.

Prints p50 and p90 milliseconds for:

- one uploaded reference picture (``cameos.reference_faces``' blocking part:
  PNG decode, NudeNet, dlib detection and a descriptor per face) for a
  portrait, a picture without a face and a 1920x1080 photo-sized picture;
- one frame of a finished video (``cameos.face_search.describe_faces``, what
  ``cameos.output_likeness`` runs per frame) at 64x64 (the tiny presets),
  320x240 and 1280x720, with and without a face, and NudeNet on the same frame;
- the comparison of one face with N verified cameos' embeddings (the scan
  ``face_search.candidates_for`` makes; the database read is not included).

    .venv/bin/python bench/likeness_checks.py [--repeat 10]

Also prints the descriptor distance of each face picture to a descriptor of
the astronaut photo, to show how the enlargement of tiny frames holds up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cameos import face_search, reference_faces  # noqa: E402
from core import nudity  # noqa: E402
from tests.cameos.capture import astronaut_head, hopper_head  # noqa: E402
from tests.cameos.recorded_face import png, scene  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 90))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    import skimage.data

    nudity.warm_up()
    reference = face_search.describe_faces(astronaut_head())[0]
    photo = np.ascontiguousarray(np.tile(skimage.data.coffee(), (3, 4, 1))[:1080, :1920])

    print("upload check (decode + NudeNet + faces), ms p50 / p90")
    uploads = {
        "portrait 320x240": png(scene(astronaut_head())),
        "no face 600x400 (coffee)": png(skimage.data.coffee()),
        "no face 1920x1080": png(photo),
        "portrait 1280x720": png(scene(astronaut_head(), (1280, 720))),
    }
    for name, data in uploads.items():
        p50, p90 = timed(lambda: reference_faces._detect(data), args.repeat)
        print(f"  {name:28s} {p50:7.0f} / {p90:5.0f}")

    print("per output frame, ms p50 / p90 (faces: describe_faces; nudity: NudeNet), distance to the photo")
    frames = {
        "64x64 face": scene(astronaut_head(), (64, 64), 1.0),
        "64x64 face, half height": scene(astronaut_head(), (64, 64), 0.5),
        "64x64 no face": np.ascontiguousarray(skimage.data.chelsea()[::5, ::7][:64, :64]),
        "320x240 face": scene(astronaut_head()),
        "320x240 other person": scene(hopper_head()),
        "1280x720 face": scene(astronaut_head(), (1280, 720)),
        "1280x720 face, 1/6 height": scene(astronaut_head(), (1280, 720), 1 / 6),
    }
    for name, frame in frames.items():
        p50, p90 = timed(lambda: face_search.describe_faces(frame), args.repeat)
        n50, n90 = timed(lambda: nudity.detect(frame), args.repeat)
        found = face_search.describe_faces(frame)
        dist = ", ".join(f"{np.linalg.norm(d - reference):.2f}" for d in found) or "no face"
        print(f"  {name:28s} faces {p50:5.0f} / {p90:5.0f}   nudity {n50:4.0f} / {n90:4.0f}   {dist}")

    print("one face against N cameos (the scan), ms p50")
    rng = np.random.default_rng(1)
    for n in (1_000, 10_000, 100_000):
        known = [(f"cameo_{i}", "user", list(v)) for i, v in enumerate(rng.normal(size=(n, 128)) * 0.1)]
        p50, _ = timed(lambda: face_search.candidates_for([reference], known), 3)
        print(f"  {n:>7d} cameos {p50:8.1f}")


if __name__ == "__main__":
    main()
