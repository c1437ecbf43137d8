"""Reference images: the picture a job's first frame is conditioned on
(image-to-video). It comes from an upload (the Videos API's
``input_reference``) or from the last frame of a video an extension
continues. Either way it is checked here, then stored as the job's
``reference`` media variant, normalised to an RGB PNG, for the worker to
load with :func:`open_reference`.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

# What an upload may be, by the format Pillow detects (not by its name or
# declared content type).
ACCEPTED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# Decompression bombs: a tiny file that decodes to a huge picture.
MAX_PIXELS = 40_000_000
MIN_SIDE = 16


class BadReference(ValueError):
    """An upload that is not an acceptable reference image (or video)."""


def normalize_image(data: bytes) -> bytes:
    """The PNG of an uploaded PNG, JPEG or WebP picture; BadReference otherwise."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadReference("the reference file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
                if kind not in ACCEPTED_FORMATS:
                    raise BadReference(f"reference images must be PNG, JPEG or WebP; this file is {kind or 'not an image'}")
                if width * height > MAX_PIXELS:
                    raise BadReference(f"the reference image is {width}x{height}; at most {MAX_PIXELS} pixels")
                if min(width, height) < MIN_SIDE:
                    raise BadReference(f"the reference image is {width}x{height}; each side must be at least {MIN_SIDE} pixels")
                probe.verify()  # structure and checksums, without decoding
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # a full decode: truncated pixel data fails here
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(0)
                rgb = image.convert("RGB")
    except BadReference:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadReference("the reference file is not a PNG, JPEG or WebP image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadReference(f"the reference image could not be decoded: {exc}") from None
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return out.getvalue()


def last_frame_png(mp4_path: Path | str) -> bytes:
    """The last frame of a video file as PNG; BadReference if it holds no decodable video."""
    import av

    last = None
    try:
        with av.open(str(mp4_path)) as container:
            kind = container.format.name
            if kind.endswith("_pipe") or kind.startswith("image2"):  # a still picture, not a video
                raise BadReference(f"a still image ({kind.removesuffix('_pipe')}) is not a video")
            if not container.streams.video:
                raise BadReference("the video has no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                last = frame
    except BadReference:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise BadReference(f"the video could not be decoded: {exc}") from None
    if last is None:
        raise BadReference("the video holds no decodable frames")
    out = io.BytesIO()
    last.to_image().convert("RGB").save(out, format="PNG")
    return out.getvalue()


def open_reference(data: bytes):
    """A stored reference (PNG bytes) as an RGB PIL image, for ``VideoGenerator.generate(image=...)``."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")
