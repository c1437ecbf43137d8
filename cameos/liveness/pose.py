"""Head pose from the 68 landmarks, and the head turns in a pose track.

``head_pose`` fits a generic 3D face (an average adult's, in millimetres) to
the landmarks with ``cv2.solvePnP``. Yaw is positive when the face turns
towards the image's right edge, which in an unmirrored camera image is the
person's own left; pitch is positive when the face looks up.
``moves_from_yaw`` finds the turns past a threshold from the person's frontal
baseline and names them from the person's point of view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from cameos.liveness.report import Move

TURN_THRESHOLD_DEG = 20.0  # a move must turn at least this far from the frontal baseline
RETURN_FRACTION = 0.5  # a turn ends when the yaw comes back within this fraction of the threshold
MIN_TURN_FRAMES = 2  # analysed frames past the threshold that make a turn
MAX_GAP_S = 1.0  # frames without a face for longer than this end a turn

# A generic face in camera-like axes: x towards the image's right, y down, z away from
# the camera; the nose tip at the origin. Millimetres, for an average adult.
_MODEL = {
    30: (0.0, 0.0, 0.0),  # nose tip
    27: (0.0, -35.0, 22.0),  # top of the nose, between the eyes
    33: (0.0, 11.0, 14.0),  # below the nose
    31: (-16.0, 6.0, 18.0),  # nostril wings
    35: (16.0, 6.0, 18.0),
    36: (-44.0, -33.0, 46.0),  # outer eye corners (36: the person's right eye)
    39: (-19.0, -32.0, 34.0),  # inner eye corners
    42: (19.0, -32.0, 34.0),
    45: (44.0, -33.0, 46.0),
    17: (-57.0, -46.0, 45.0),  # outer brow ends
    26: (57.0, -46.0, 45.0),
    48: (-28.0, 24.0, 34.0),  # mouth corners
    54: (28.0, 24.0, 34.0),
    51: (0.0, 23.0, 14.0),  # top of the upper lip
    8: (0.0, 72.0, 28.0),  # chin
}
_INDICES = np.array(list(_MODEL), dtype=np.int64)
_OBJECT = np.array([_MODEL[i] for i in _INDICES], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Pose:
    yaw: float  # degrees; positive: towards the image's right edge (the person's own left)
    pitch: float  # degrees; positive: looking up


def camera_matrix(width: int, height: int) -> np.ndarray:
    """A phone-like camera: focal length about the frame's long side, centred."""
    f = float(max(width, height))
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def head_pose(points: np.ndarray, frame_size: tuple[int, int]) -> Pose | None:
    """Yaw and pitch of the face whose 68 landmarks are ``points`` in a frame of
    ``frame_size`` (width, height); None when the fit fails."""
    pts = np.asarray(points, dtype=np.float64)
    image = np.ascontiguousarray(pts[_INDICES])
    cam = camera_matrix(*frame_size)
    # Start from a frontal face at the distance its eye span implies: from scratch the
    # solver can land on the mirror-image fit (the face behind the camera, the yaw's sign
    # flipped).
    eye_span = float(np.linalg.norm(pts[45] - pts[36]))
    if eye_span < 1.0:
        return None
    z = cam[0, 0] * (_MODEL[45][0] - _MODEL[36][0]) / eye_span
    nose = pts[30]
    tvec = np.array([[(nose[0] - cam[0, 2]) * z / cam[0, 0]], [(nose[1] - cam[1, 2]) * z / cam[1, 1]], [z]])
    rvec = np.zeros((3, 1))
    ok, rvec, tvec = cv2.solvePnP(
        _OBJECT, image, cam, None, rvec=rvec, tvec=tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok or tvec[2, 0] <= 0:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    # where the face looks, in camera axes: the model's -z (out of the face)
    look = rot @ np.array([0.0, 0.0, -1.0])
    if look[2] >= 0:  # a fit that faces away from the camera is a failed fit
        return None
    yaw = float(np.degrees(np.arctan2(look[0], -look[2])))
    pitch = float(np.degrees(np.arctan2(-look[1], np.hypot(look[0], look[2]))))
    return Pose(yaw=yaw, pitch=pitch)


def frontal_baseline(track: Sequence[float | None], window_deg: float = 12.0) -> float | None:
    """The yaw the person holds most: the median of the densest ``window_deg`` band of the
    track (frontal pauses outnumber any one turn)."""
    values = np.sort(np.array([v for v in track if v is not None], dtype=np.float64))
    if values.size == 0:
        return None
    best_lo, best_n = 0, 0
    hi = 0
    for lo in range(values.size):
        while hi < values.size and values[hi] - values[lo] <= window_deg:
            hi += 1
        if hi - lo > best_n:
            best_lo, best_n = lo, hi - lo
    return float(np.median(values[best_lo : best_lo + best_n]))


def moves_from_yaw(
    track: Sequence[float | None],
    fps: float,
    *,
    times: Sequence[float] | None = None,
    threshold: float = TURN_THRESHOLD_DEG,
    baseline: float | None = None,
) -> list[Move]:
    """The head turns in a yaw track (degrees per analysed frame, None where no face), in
    order. A turn is at least ``MIN_TURN_FRAMES`` frames past ``threshold`` degrees from
    the frontal baseline on one side, ending when the yaw comes back; consecutive turns to
    the same side count as one. ``left`` is the person's own left (positive yaw)."""
    if times is None:
        times = [i / fps for i in range(len(track))]
    if baseline is None:
        baseline = frontal_baseline(track)
    if baseline is None:
        return []
    back = threshold * RETURN_FRACTION

    moves: list[Move] = []
    cur: dict | None = None  # the turn being followed

    def close() -> None:
        nonlocal cur
        if cur is not None and cur["past"] >= MIN_TURN_FRAMES:
            move = Move(
                direction="left" if cur["sign"] > 0 else "right",
                peak_yaw=round(cur["peak"], 1),
                start_s=round(cur["start"], 3),
                end_s=round(cur["end"], 3),
            )
            if moves and moves[-1].direction == move.direction:
                prev = moves.pop()
                peak = prev.peak_yaw if abs(prev.peak_yaw) >= abs(move.peak_yaw) else move.peak_yaw
                move = Move(direction=move.direction, peak_yaw=peak, start_s=prev.start_s, end_s=move.end_s)
            moves.append(move)
        cur = None

    last_seen: float | None = None
    for yaw, t in zip(track, times):
        if yaw is None:
            if cur is not None and last_seen is not None and t - last_seen > MAX_GAP_S:
                close()
            continue
        last_seen = t
        d = yaw - baseline
        sign = 1 if d > 0 else -1
        if cur is not None and (abs(d) < back or sign != cur["sign"]):
            close()
        if cur is None:
            if abs(d) >= back:
                cur = {"sign": sign, "peak": d, "start": t, "end": t, "past": 0}
            else:
                continue
        cur["end"] = t
        if abs(d) > abs(cur["peak"]):
            cur["peak"] = d
        if abs(d) >= threshold:
            cur["past"] += 1
    close()
    return moves
