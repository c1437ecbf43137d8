"""What FFmpeg's demuxer says a media file is.

FFmpeg opens a still picture (PNG, JPEG, WebP, BMP, ...) through a demuxer
of its own (``png_pipe``, ``jpeg_pipe``, ``image2``) as a one-frame video
stream, so "it has a video stream" does not tell a picture from a video.
Every place that asks for a video (a cameo's or a character's recording,
the clip a video is extended from) asks this first."""

from __future__ import annotations


def is_still_image(format_name: str) -> bool:
    """Whether a container's ``format.name`` (PyAV; comma-separated when the
    demuxer has several names, as ``mov,mp4,m4a,...``) is a still-image demuxer."""
    return any(name.endswith("_pipe") or name.startswith("image2") for name in (format_name or "").split(","))
