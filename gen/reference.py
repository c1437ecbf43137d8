"""Reference images: the picture a job's first frame is conditioned on
(image-to-video). It comes from an upload (the Videos API's
``input_reference``) or from the last frame of a video an extension
continues. Either way it is checked here, then stored as the job's
``reference`` media variant, normalised to an RGB PNG, for the worker to
load with :func:`open_reference`.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

from core.errors import reason_without_paths
from core.media_kind import is_still_image

# What an upload may be, by the format its bytes show (not by its name or
# declared content type).
ACCEPTED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# Decompression bombs: a tiny file that decodes to a huge picture. The
# picture is read from the header and refused before any pixel is decoded;
# a 4K frame (what the largest served size needs, and then some) decodes in
# about 25 MB.
MAX_PIXELS = 3840 * 2160
MAX_VIDEO_SECONDS = 180.0  # a video to extend, by its header
MAX_DECODED_FRAMES = 1800  # frames decoded to find a video's last one (a minute at 30 fps from its last keyframe)
MIN_SIDE = 16

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# JPEG markers that start a frame (and carry its size): SOF0-3, 5-7, 9-11, 13-15
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


class BadReference(ValueError):
    """An upload that is not an acceptable reference image (or video)."""


def _unreadable() -> BadReference:
    return BadReference("the file is not a PNG, JPEG or WebP image")


def _truncated() -> BadReference:
    return BadReference("the image is truncated")


def _png_header(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _unreadable()
    width, height = struct.unpack(">II", data[16:24])
    if not data.endswith(_PNG_END):  # every complete PNG ends with this chunk
        raise _truncated()
    return width, height


def _jpeg_header(data: bytes) -> tuple[int, int]:
    at, size = 2, None
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise _unreadable()
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker in _JPEG_SOF:
            if at + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            if size is None:
                raise _unreadable()
            # no 0xFF 0xD9 can occur inside it (0xFF is stuffed): the end marker must follow
            if data.find(b"\xff\xd9", at + 2 + length) < 0:
                raise _truncated()
            return size
        at += 2 + length
    raise _truncated() if size is not None or at + 4 > len(data) else _unreadable()


def _webp_header(data: bytes) -> tuple[int, int]:
    if len(data) < 30:
        raise _truncated()
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > len(data):
        raise _truncated()
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and body[:1] == b"\x2f":
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return width, height
    raise _unreadable()


def header_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) of a PNG, JPEG or WebP from its header alone,
    without decoding a pixel; BadReference for any other file, or one whose
    end is missing."""
    if not data:
        raise BadReference("the reference file is empty")
    if data.startswith(_PNG_SIGNATURE):
        return ("PNG", *_png_header(data))
    if data.startswith(b"\xff\xd8\xff"):
        return ("JPEG", *_jpeg_header(data))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("WEBP", *_webp_header(data))
    kind = "a GIF" if data[:4] == b"GIF8" else "not an image"
    raise BadReference(f"reference images must be PNG, JPEG or WebP; this file is {kind}")


def check_header(data: bytes) -> tuple[str, int, int]:
    """``header_size``, refusing a picture over ``MAX_PIXELS`` or with a side
    under ``MIN_SIDE``: the checks that need no decoding (cheap enough for an
    event loop)."""
    kind, width, height = header_size(data)
    if width * height > MAX_PIXELS:
        raise BadReference(f"the reference image is {width}x{height}; at most {MAX_PIXELS} pixels")
    if min(width, height) < MIN_SIDE:
        raise BadReference(f"the reference image is {width}x{height}; each side must be at least {MIN_SIDE} pixels")
    return kind, width, height


def normalize_image(data: bytes) -> bytes:
    """The PNG of an uploaded PNG, JPEG or WebP picture; BadReference otherwise.

    Blocking (it decodes): run it off the event loop. The size is read from
    the header and checked (at most ``MAX_PIXELS``, each side at least
    ``MIN_SIDE``) before anything is decoded; a file whose end is missing
    is refused, as is one whose pixel data does not decode in full."""
    from PIL import Image, UnidentifiedImageError

    kind, width, height = check_header(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as probe:
                if probe.size != (width, height):  # a header that disagrees with itself
                    raise _unreadable()
                probe.verify()  # structure and checksums, without decoding
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                image.load()  # a full decode: truncated pixel data fails here
                if getattr(image, "n_frames", 1) > 1:
                    image.seek(0)
                rgb = image.convert("RGB")
    except BadReference:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _unreadable() from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise BadReference(f"the reference image could not be decoded: {exc}") from None
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return out.getvalue()


def _seconds(container, stream) -> float | None:
    """The video's length from its header (None when the header does not say)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def last_frame_png(mp4_path: Path | str) -> bytes:
    """The last frame of a video file as PNG; BadReference if it holds no
    decodable video, or one larger than ``MAX_PIXELS`` a frame or longer than
    ``MAX_VIDEO_SECONDS`` (read from the header, before anything is decoded).

    Only the end is decoded: the file is sought to its last keyframe and read
    from there (a whole file when it cannot be sought), at most
    ``MAX_DECODED_FRAMES`` frames either way."""
    import av

    last = None
    try:
        with av.open(str(mp4_path)) as container:
            kind = container.format.name
            if is_still_image(kind):
                raise BadReference(f"a still image ({kind.removesuffix('_pipe')}) is not a video")
            if not container.streams.video:
                raise BadReference("the video has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > MAX_PIXELS:
                raise BadReference(f"the video is {width}x{height}; at most {MAX_PIXELS} pixels a frame")
            seconds = _seconds(container, stream)
            if seconds is not None and seconds > MAX_VIDEO_SECONDS:
                raise BadReference(f"the video is {seconds:.0f} s long; at most {MAX_VIDEO_SECONDS:.0f} s")
            if stream.duration is not None:
                try:  # the last keyframe at or before the end
                    container.seek((stream.start_time or 0) + stream.duration, stream=stream, backward=True, any_frame=False)
                except av.error.FFmpegError:
                    container.seek(0)
            for count, frame in enumerate(container.decode(stream), 1):
                last = frame
                if count >= MAX_DECODED_FRAMES:
                    raise BadReference(f"the video's end is more than {MAX_DECODED_FRAMES} frames from a keyframe")
    except BadReference:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise BadReference(f"the video could not be decoded: {reason_without_paths(exc)}") from None
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
