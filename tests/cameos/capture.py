"""Synthetic liveness captures for the tests: a real face photo that turns its head
and opens its mouth with the sound, encoded as a phone or browser would (MP4 with
H.264 + AAC, or WebM with VP8 + Opus).

Faces come from photos that installed packages ship: scikit-image's astronaut
(Eileen Collins) and matplotlib's Grace Hopper, two different people to dlib
(descriptor distance ~0.69). The head turn is a 3D rotation of the landmark
mesh: dlib's 68 landmarks get a generic depth (an ellipsoid across the face,
the nose tip ~0.2 face-widths further forward), the mesh turns about the
vertical axis, and the picture follows triangle by triangle (``cv2.warpAffine``
with a mask per triangle of a Delaunay mesh over the landmarks, forehead,
a ring around the head and the frame's border). The lower lip and jaw drop with
the sound's envelope and the mouth's inside is painted dark.

A move "left" is the person's own left: in the unmirrored frame the nose goes
towards the image's right edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import av
import cv2
import numpy as np
from scipy.spatial import Delaunay

from cameos.liveness import faces

CANVAS = (640, 480)  # width, height of a one-person capture
TURN_DEG = 32.0  # how far a move turns the head
TURN_UP_S, TURN_HOLD_S, TURN_DOWN_S, TURN_GAP_S = 0.35, 0.45, 0.35, 0.45
FIRST_TURN_S = 0.8

VARIANTS = ("live", "still", "two_faces", "no_face", "swap_person")

# landmark indices (iBUG 300-W, 0-based)
_JAW = range(0, 17)
_BROWS = range(17, 27)
_INNER_LIPS = range(60, 68)
_LOWER_INNER = (65, 66, 67)
_UPPER_INNER = (61, 62, 63)
# how far each point drops when the mouth opens fully (fraction of the opening)
_MOUTH_DROP = {
    65: 1.0, 66: 1.0, 67: 1.0, 55: 1.0, 56: 1.0, 57: 1.0, 58: 1.0, 59: 1.0,
    8: 0.85, 7: 0.7, 9: 0.7, 6: 0.5, 10: 0.5, 5: 0.25, 11: 0.25,
    61: -0.08, 62: -0.08, 63: -0.08,
}


# ---------------------------------------------------------------- face photos


def astronaut_head() -> np.ndarray:
    """scikit-image's astronaut, head and shoulders (the suit's mission patch, which dlib
    reads as a face, is cropped out)."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[0:300, 92:352])


def hopper_head() -> np.ndarray:
    """matplotlib's sample photo of Grace Hopper, head and shoulders."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = np.asarray(Image.open(f).convert("RGB"))
    return np.ascontiguousarray(img[60:560, 40:490])


def cat_picture() -> np.ndarray:
    """scikit-image's cat (Chelsea): a picture without a human face."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.chelsea())


_HEADS = {"astronaut": astronaut_head, "hopper": hopper_head}


def _fit(image: np.ndarray, width: int, height: int, fill: int = 118) -> np.ndarray:
    """``image`` scaled to fit a width x height box, centred on a plain background."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = int(round(w * scale)), int(round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = np.full((height, width, 3), fill, dtype=np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out


# ---------------------------------------------------------------- the rig


@dataclass
class _Face:
    points: np.ndarray  # (n, 2) mesh vertices in the base frame
    depth: np.ndarray  # (n,) forward depth in pixels (0 = static)
    center_x: float
    open_px: float  # how far the lower lip drops when the mouth is fully open
    inner_lips: np.ndarray  # indices into points of 60..67


class HeadRig:
    """One base frame with one or more faces; ``render`` turns and opens the face
    ``face_index`` (others stay still)."""

    def __init__(self, base: np.ndarray, *, flat: bool = False) -> None:
        """``flat``: no depth, so a "turn" swings the picture like a photo on its vertical
        axis (the nose keeps its place between the eyes)."""
        self.base = np.ascontiguousarray(base)
        h, w = base.shape[:2]
        boxes = faces.detect_faces(self.base, upsample=1)
        if not boxes:
            raise RuntimeError("no face found in the capture's base frame")
        boxes.sort(key=lambda b: b.center[0])  # left to right
        self.faces = [self._face(faces.landmarks(self.base, b), flat) for b in boxes]
        border = [
            (0, 0), (w / 2, 0), (w - 1, 0), (w - 1, h / 2), (w - 1, h - 1), (w / 2, h - 1), (0, h - 1), (0, h / 2),
        ]
        pts = [np.asarray(border, dtype=np.float64)]
        depth = [np.zeros(len(border))]
        self._slices = []
        start = len(border)
        for f in self.faces:
            pts.append(f.points)
            depth.append(f.depth)
            self._slices.append(slice(start, start + len(f.points)))
            start += len(f.points)
        self.points = np.concatenate(pts)
        self.depth = np.concatenate(depth)
        # inner lips are left out of the mesh: closed, their upper and lower points coincide
        self._in_mesh = np.ones(len(self.points), dtype=bool)
        for s in self._slices:
            idx = np.arange(s.start, s.stop)
            self._in_mesh[idx[list(_INNER_LIPS)]] = False
        mesh_idx = np.flatnonzero(self._in_mesh)
        tri = Delaunay(self.points[mesh_idx])
        self.triangles = mesh_idx[tri.simplices]

    @staticmethod
    def _face(lm: np.ndarray, flat: bool = False) -> _Face:
        jaw_w = float(np.linalg.norm(lm[16] - lm[0]))
        cx = float(lm[:, 0].mean())
        brow_y = float(lm[list(_BROWS), 1].mean())
        chin_y = float(lm[8, 1])
        cy = (brow_y + chin_y) / 2.0
        rx, ry = jaw_w / 2.0, (chin_y - brow_y) / 2.0 * 1.15
        # forehead: the brows lifted by half the brow-to-nose-tip distance
        lift = 0.6 * (lm[30, 1] - brow_y)
        forehead = lm[[17, 19, 21, 22, 24, 26]] - np.array([0.0, lift])
        # a still ring around the head, where the turn fades into the background
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = np.stack([cx + 1.75 * rx * np.cos(angles), cy + 1.6 * ry * np.sin(angles)], axis=1)
        pts = np.concatenate([lm, forehead, ring])
        dx = (pts[:, 0] - cx) / rx
        dy = (pts[:, 1] - cy) / (ry * 1.25)
        depth = 0.35 * jaw_w * np.sqrt(np.clip(1.0 - dx**2 - dy**2, 0.0, None))
        nose_extra = {27: 0.04, 28: 0.08, 29: 0.12, 30: 0.2, 31: 0.1, 32: 0.13, 33: 0.15, 34: 0.13, 35: 0.1}
        for i, extra in nose_extra.items():
            depth[i] += extra * jaw_w
        if flat:
            depth[: 68 + 6] = 1e-6  # turns, but every point at the same depth
        depth[68 + 6 :] = 0.0  # the ring stays put
        face_h = chin_y - brow_y
        return _Face(
            points=pts, depth=depth, center_x=cx, open_px=0.09 * face_h, inner_lips=np.arange(60, 68)
        )

    def moved_points(self, yaw_deg: float, mouth: float, face_index: int = 0, shift=(0.0, 0.0)) -> np.ndarray:
        """Mesh vertices after turning face ``face_index`` by ``yaw_deg`` (positive: the nose
        goes towards the image's right edge) and opening its mouth by ``mouth`` in 0..1."""
        dst = self.points.copy()
        s = self._slices[face_index]
        f = self.faces[face_index]
        local = dst[s].copy()
        # the mouth opens first, in the face's own frame
        for i, k in _MOUTH_DROP.items():
            local[i, 1] += k * mouth * f.open_px
        theta = np.radians(yaw_deg)
        x = local[:, 0] - f.center_x
        z = f.depth
        moving = z > 0
        local[moving, 0] = f.center_x + x[moving] * np.cos(theta) + z[moving] * np.sin(theta)
        local[:, 0] += shift[0] * moving
        local[:, 1] += shift[1] * moving
        dst[s] = local
        return dst

    def render(self, yaw_deg: float = 0.0, mouth: float = 0.0, face_index: int = 0, shift=(0.0, 0.0)) -> np.ndarray:
        dst = self.moved_points(yaw_deg, mouth, face_index, shift)
        out = _warp_mesh(self.base, self.points, dst, self.triangles)
        s = self._slices[face_index]
        if mouth > 0.02:
            inner = dst[s][60:68]
            cv2.fillPoly(out, [np.round(inner).astype(np.int32)], (52, 18, 24), lineType=cv2.LINE_AA)
        return out


def _warp_mesh(base: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Piecewise-affine warp of ``base`` that carries ``src`` vertices to ``dst``."""
    out = base.copy()
    h, w = base.shape[:2]
    moved = np.abs(dst - src).max(axis=1) > 0.01
    for t in triangles:
        if not moved[t].any():
            continue
        s_tri = src[t].astype(np.float32)
        d_tri = dst[t].astype(np.float32)
        u, v = s_tri[1] - s_tri[0], s_tri[2] - s_tri[0]
        area = abs(float(u[0] * v[1] - u[1] * v[0]))
        if area < 0.5:
            continue
        x0 = max(int(np.floor(d_tri[:, 0].min())), 0)
        y0 = max(int(np.floor(d_tri[:, 1].min())), 0)
        x1 = min(int(np.ceil(d_tri[:, 0].max())) + 1, w)
        y1 = min(int(np.ceil(d_tri[:, 1].max())) + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s_tri, d_tri - np.array([x0, y0], dtype=np.float32))
        patch = cv2.warpAffine(
            base, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        cv2.fillConvexPoly(mask, np.round(d_tri - [x0, y0]).astype(np.int32), 1, lineType=cv2.LINE_8)
        region = out[y0:y1, x0:x1]
        np.copyto(region, patch, where=mask[..., None].astype(bool))
    return out


# ---------------------------------------------------------------- schedules


def turn_schedule(moves: list[str], start_s: float = FIRST_TURN_S) -> list[tuple[float, float, float]]:
    """(start, end, signed peak) of each move; "left" turns the nose towards the image's right."""
    out = []
    t = start_s
    for move in moves:
        if move not in ("left", "right"):
            raise ValueError(f"unknown move {move!r}")
        sign = 1.0 if move == "left" else -1.0
        length = TURN_UP_S + TURN_HOLD_S + TURN_DOWN_S
        out.append((t, t + length, sign * TURN_DEG))
        t += length + TURN_GAP_S
    return out


def yaw_at(t: float, schedule: list[tuple[float, float, float]]) -> float:
    for start, end, peak in schedule:
        if start <= t <= end:
            u = t - start
            if u < TURN_UP_S:
                k = u / TURN_UP_S
            elif u < TURN_UP_S + TURN_HOLD_S:
                k = 1.0
            else:
                k = max(0.0, (end - t) / TURN_DOWN_S)
            return peak * (0.5 - 0.5 * np.cos(np.pi * k))
    return 0.0


def mouth_track(audio: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """How open the mouth is at each time (0..1), from the sound's loudness around it."""
    x = np.asarray(audio, dtype=np.float64)
    half = int(0.04 * sample_rate)
    rms = np.zeros(len(times))
    for i, t in enumerate(times):
        c = int(t * sample_rate)
        seg = x[max(0, c - half) : c + half]
        rms[i] = np.sqrt(np.mean(seg**2)) if seg.size else 0.0
    if rms.max() <= 0:
        return rms
    floor = np.percentile(rms, 20)
    level = np.clip((rms - 2.0 * floor) / (np.percentile(rms, 95) - 2.0 * floor + 1e-9), 0.0, 1.0)
    return level


# ---------------------------------------------------------------- encoding


def _encode(
    path: str, frames, fps: int, audio: np.ndarray | None, sample_rate: int, container: str, header_duration: bool = True
) -> None:
    if container == "mp4":
        out = av.open(path, "w", format="mp4", options={"movflags": "+faststart"})
        vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "23"})
        audio_rate, audio_codec = 44100, "aac"
    elif container == "webm":
        # live mode writes no duration and no cues, as browsers' MediaRecorder does
        out = av.open(path, "w", format="webm", options={} if header_duration else {"live": "1"})
        vs = out.add_stream("libvpx", rate=fps, options={"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "2M"})
        audio_rate, audio_codec = 48000, "libopus"
    else:
        raise ValueError(f"unknown container {container!r}")
    first = None
    try:
        as_ = None
        if audio is not None:
            as_ = out.add_stream(audio_codec, rate=audio_rate)
            as_.layout = "mono"
            pcm = _resample(np.asarray(audio, dtype=np.float32), sample_rate, audio_rate)
        for i, rgb in enumerate(frames):
            if first is None:
                first = rgb
                vs.width, vs.height = rgb.shape[1], rgb.shape[0]
                vs.pix_fmt = "yuv420p"
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            vf.pts = i
            for packet in vs.encode(vf):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if as_ is None:
            return
        chunk = 1024
        for i in range(0, len(pcm), chunk):
            piece = pcm[i : i + chunk]
            af = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="flt", layout="mono")
            af.sample_rate = audio_rate
            af.pts = i
            for packet in as_.encode(af):
                out.mux(packet)
        for packet in as_.encode(None):
            out.mux(packet)
    finally:
        out.close()


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return resample_poly(x, dst // g, src // g).astype(np.float32)


# ---------------------------------------------------------------- captures


@lru_cache(maxsize=8)
def head_rig(kind: str) -> HeadRig:
    w, h = CANVAS
    if kind in _HEADS:
        return HeadRig(_fit(_HEADS[kind](), w, h))
    if kind.endswith("_flat") and kind[: -len("_flat")] in _HEADS:
        return HeadRig(_fit(_HEADS[kind[: -len("_flat")]](), w, h), flat=True)
    if kind == "pair":
        left = _fit(astronaut_head(), w // 2, h)
        right = _fit(hopper_head(), w // 2, h)
        return HeadRig(np.concatenate([left, right], axis=1))
    raise ValueError(kind)


def capture_seconds(moves: list[str], audio_s: float, min_s: float = 6.0) -> float:
    schedule = turn_schedule(moves)
    end = schedule[-1][1] + 0.6 if schedule else 0.0
    return max(min_s, end, audio_s)


def make_capture(
    path: str,
    *,
    moves: list[str],
    audio: np.ndarray | None,
    sample_rate: int = 16000,
    container: str = "mp4",
    variant: str = "live",
    fps: int = 15,
    seconds: float | None = None,
    person: str = "astronaut",
    size: tuple[int, int] | None = None,
    header_duration: bool = True,
) -> str:
    """Write a synthetic capture to ``path`` and return it.

    ``audio`` (float32 mono at ``sample_rate``; None: no sound track) starts with the video; the clip lasts
    ``seconds`` (default: long enough for the sound and the moves, at least 6 s).
    Variants: ``live`` (turns and lips), ``still`` (a photo held to the camera: a slight
    shake, no turn, a closed mouth), ``two_faces`` (the person and Grace Hopper side by side),
    ``no_face`` (a cat), ``swap_person`` (the person, then a cut to Grace Hopper, both
    turning and speaking). ``size`` scales the frames (width, height).
    ``header_duration=False`` writes a WebM whose header does not say how long it is."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    silent = audio is None
    audio = np.zeros(0, dtype=np.float32) if silent else np.asarray(audio, dtype=np.float32).reshape(-1)
    total = seconds if seconds is not None else capture_seconds(moves, len(audio) / sample_rate)
    n = int(round(total * fps))
    times = np.arange(n) / fps
    need = int(np.ceil(total * sample_rate))
    if len(audio) < need:
        audio = np.concatenate([audio, np.zeros(need - len(audio), dtype=np.float32)])
    else:
        audio = audio[:need]
    schedule = turn_schedule(moves)
    mouth = mouth_track(audio, sample_rate, times)
    rng = np.random.default_rng(7)

    def frames():
        if variant == "no_face":
            w, h = CANVAS
            big = _fit(cat_picture(), w + 40, h + 30)
            for i, t in enumerate(times):
                dx = int(20 + 15 * np.sin(t * 1.3))
                dy = int(15 + 10 * np.sin(t * 0.9))
                yield _sized(big[dy : dy + h, dx : dx + w], size)
            return
        if variant == "still":
            rig = head_rig(person)
            jitter = np.cumsum(rng.normal(0, 0.4, size=(n, 2)), axis=0)
            jitter -= jitter.mean(axis=0)
            for i in range(n):
                m = np.float32([[1, 0, jitter[i, 0]], [0, 1, jitter[i, 1]]])
                yield _sized(cv2.warpAffine(rig.base, m, CANVAS, borderMode=cv2.BORDER_REPLICATE), size)
            return
        if variant == "two_faces":
            rig = head_rig("pair")
            for i, t in enumerate(times):
                yield _sized(rig.render(yaw_at(t, schedule), mouth[i], face_index=0), size)
            return
        if variant == "swap_person":
            other = "hopper" if person != "hopper" else "astronaut"
            cut = total / 2.0
            for i, t in enumerate(times):
                rig = head_rig(person if t < cut else other)
                yield _sized(rig.render(yaw_at(t, schedule), mouth[i]), size)
            return
        rig = head_rig(person)
        for i, t in enumerate(times):
            yield _sized(rig.render(yaw_at(t, schedule), mouth[i]), size)

    _encode(path, frames(), fps, None if silent else audio, sample_rate, container, header_duration)
    return path


def _sized(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    return cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)


def quiet_room(seconds: float, sample_rate: int = 16000, *, seed: int = 3) -> np.ndarray:
    """A quiet room's steady hiss and nothing said: a sound the speech check refuses for any
    challenge at its first step (no speech), for tests of a face that does not say the digits.
    (``tone_speech`` will not do there: its steady buzz is heard as "four" and "oh", so the
    check takes it for a challenge such as 40450.)"""
    from tests.cameos.speech_clips import room_noise

    return (0.01 * room_noise(int(seconds * sample_rate), np.random.default_rng(seed))).astype(np.float32)


def tone_speech(seconds: float, sample_rate: int = 16000, *, syllables: int = 5, start_s: float = 1.0) -> np.ndarray:
    """A voice-like buzz in ``syllables`` bursts (for face tests that do not check the digits)."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    buzz = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    env = np.zeros(n)
    for i in range(syllables):
        a = start_s + i * 0.6
        env += np.exp(-0.5 * ((t - a - 0.18) / 0.09) ** 2)
    rng = np.random.default_rng(3)
    x = 0.25 * buzz * np.clip(env, 0, 1) + 0.003 * rng.standard_normal(n)
    return x.astype(np.float32)
