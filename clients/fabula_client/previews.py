"""Live preview frames as the WebSocket sends them (binary frames; the
layout is docs/WEBSOCKET.md's): big-endian event type (1: preview image),
image format (1: JPEG, 2: PNG), the video id's length and the id, the step
and the steps in the run, then the picture."""

from __future__ import annotations

import struct
from dataclasses import dataclass

EVENT_PREVIEW = 1
CONTENT_TYPES = {1: "image/jpeg", 2: "image/png"}
_HEAD = struct.Struct(">IIB")
_STEPS = struct.Struct(">II")


@dataclass(frozen=True)
class PreviewFrame:
    event: int
    format: int
    video_id: str
    step: int
    steps: int
    image: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.format, "application/octet-stream")


def decode_preview(data: bytes) -> PreviewFrame:
    """Parse one binary frame; ValueError when it is shorter than its header."""
    if len(data) < _HEAD.size:
        raise ValueError("frame shorter than its header")
    event, fmt, n = _HEAD.unpack_from(data, 0)
    at = _HEAD.size + n
    if len(data) < at + _STEPS.size:
        raise ValueError("frame shorter than its header")
    step, steps = _STEPS.unpack_from(data, at)
    return PreviewFrame(event, fmt, data[_HEAD.size : at].decode("ascii"), step, steps, data[at + _STEPS.size :])
