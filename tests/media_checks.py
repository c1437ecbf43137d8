"""Decoding helpers for tests: what PyAV sees in an MP4."""

from __future__ import annotations

import io

import av


def probe_mp4(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "frames": frames,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "codec": stream.codec_context.name,
            "audio_streams": len(container.streams.audio),
        }
