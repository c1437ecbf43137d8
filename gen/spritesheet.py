"""Spritesheets: one JPEG grid of frames sampled evenly across a finished
video, for scrubbing previews (the Videos API's ``variant=spritesheet``).

``make_spritesheet(mp4_path, out_path)`` decodes the MP4 with PyAV, keeps up
to ``max_frames`` frames spread evenly from first to last, scales each so its
longer side is at most ``tile_max_side`` (never up), and lays them out left
to right, top to bottom in a grid ``ceil(sqrt(n))`` tiles wide. The file is
written atomically (a temp file beside it, then ``os.replace``).
"""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import msgspec

MAX_FRAMES = 16
TILE_MAX_SIDE = 256
JPEG_QUALITY = 80


class SpriteSheet(msgspec.Struct, kw_only=True):
    path: str
    frames: int  # tiles in the grid
    columns: int
    rows: int
    tile_width: int
    tile_height: int
    bytes: int


def pick_indices(total: int, wanted: int) -> list[int]:
    """``min(total, wanted)`` frame indices spread evenly over ``0..total-1``, first and last included."""
    if total <= 0 or wanted <= 0:
        return []
    n = min(total, wanted)
    if n == 1:
        return [0]
    return sorted({round(i * (total - 1) / (n - 1)) for i in range(n)})


def _tile_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_spritesheet(
    mp4_path: Path | str,
    out_path: Path | str,
    *,
    max_frames: int = MAX_FRAMES,
    tile_max_side: int = TILE_MAX_SIDE,
) -> SpriteSheet:
    """Write the spritesheet of ``mp4_path`` to ``out_path``; ValueError if the file holds no video frames."""
    import av
    from PIL import Image

    tiles: list[Image.Image] = []
    with av.open(str(mp4_path)) as container:
        if not container.streams.video:
            raise ValueError(f"{mp4_path} has no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise ValueError(f"{mp4_path} has a video stream without a size")
        tw, th = _tile_size(width, height, tile_max_side)
        total = stream.frames
        if total:
            wanted = set(pick_indices(total, max_frames))
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted:
                    tiles.append(frame.to_image().convert("RGB").resize((tw, th), Image.Resampling.BILINEAR))
        else:  # no frame count in the container: keep every frame small, then choose
            every = [frame.to_image().convert("RGB").resize((tw, th), Image.Resampling.BILINEAR) for frame in container.decode(stream)]
            tiles = [every[i] for i in pick_indices(len(every), max_frames)]
    if not tiles:
        raise ValueError(f"{mp4_path} holds no decodable video frames")
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * tw, rows * th))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * tw, (i // columns) * th))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        sheet.save(tmp, format="JPEG", quality=JPEG_QUALITY)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return SpriteSheet(
        path=str(out), frames=len(tiles), columns=columns, rows=rows, tile_width=tw, tile_height=th, bytes=out.stat().st_size
    )
