"""The geometry of the invisible mark: one tile of ±1 chips, repeated over
every frame, and the templates a reader correlates with.

Geometry is relative to the frame, not to its pixels: a frame is seen on a
*canonical grid* whose short side is ``CANONICAL_SHORT`` units (a 720x1280
frame is 128x228 units, a 64x64 frame 128x128). The tile is ``TILE`` units
square and holds ``CHIPS`` x ``CHIPS`` chips of ``CHIP`` units; tiles repeat
from the frame's top-left corner. A rescaled copy (any size) therefore lands
on the same grid; a crop changes only the grid's scale (when the short side
was cut) and the tiles' phase, which a reader searches for.

Of a tile's 256 chips, ``SYNC_CHIPS`` carry a fixed pseudo-random sign
pattern that lets a reader find the tiles' phase and scale; the other 192
carry the ``key_code.CODED_BITS`` (140) coded bits, scattered over the tile
with a fixed spreading sign (chip j carries bit j mod 140: the first 52 bits
get two chips). The layout is public (derived from a
fixed seed): what identifies a video is the key, not a secret pattern.

A frame's pattern is the chip grid interpolated (bicubic) to the frame's
pixels: smooth, brightness-only, about 1/64 of the short side per chip.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gen.provenance.key_code import CODED_BITS

CANONICAL_SHORT = 128
TILE = 32
CHIP = 2
CHIPS = TILE // CHIP
SYNC_CHIPS = 64
PAYLOAD_CHIPS = CHIPS * CHIPS - SYNC_CHIPS
# The reader's band-pass: a frame minus its Gaussian blur of this many units.
WHITEN_SIGMA = 2.0
LAYOUT_SEED = 0xFAB07A


class Layout:
    """Which chip carries what, and the reader's templates (built once)."""

    def __init__(self, seed: int = LAYOUT_SEED) -> None:
        rng = np.random.default_rng(seed)
        order = rng.permutation(CHIPS * CHIPS)
        self.sync_index = order[:SYNC_CHIPS]
        self.payload_index = order[SYNC_CHIPS:]
        self.payload_bit = np.arange(PAYLOAD_CHIPS) % CODED_BITS  # the coded bit each payload chip carries
        self.sync_sign = rng.choice(np.array([-1.0, 1.0]), SYNC_CHIPS)
        self.payload_sign = rng.choice(np.array([-1.0, 1.0]), PAYLOAD_CHIPS)

        sync = np.zeros(CHIPS * CHIPS)
        sync[self.sync_index] = self.sync_sign
        self.sync_template = whiten_periodic(_units(sync))
        bits = np.zeros((CODED_BITS, TILE, TILE), np.float32)
        for i in range(CODED_BITS):
            one = np.zeros(CHIPS * CHIPS)
            mine = self.payload_bit == i
            one[self.payload_index[mine]] = self.payload_sign[mine]
            bits[i] = whiten_periodic(_units(one))
        self.bit_templates = bits
        # conjugate spectra: a circular cross-correlation is one product and an inverse FFT
        self.sync_spectrum = np.conj(np.fft.fft2(self.sync_template))
        self.bit_spectra = np.conj(np.fft.fft2(bits))

    def chip_tile(self, coded: np.ndarray) -> np.ndarray:
        """The (CHIPS, CHIPS) tile of ±1 chips carrying ``coded`` (CODED_BITS values, 0/1)."""
        coded = np.asarray(coded).reshape(-1)
        if coded.size != CODED_BITS:
            raise ValueError(f"need {CODED_BITS} coded bits, got {coded.size}")
        tile = np.zeros(CHIPS * CHIPS)
        tile[self.sync_index] = self.sync_sign
        tile[self.payload_index] = self.payload_sign * np.where(coded > 0, 1.0, -1.0)[self.payload_bit]
        return tile.reshape(CHIPS, CHIPS)

    def frame_pattern(self, coded: np.ndarray, height: int, width: int) -> np.ndarray:
        """The mark of a ``height`` x ``width`` frame: float32 in about [-1, 1]."""
        import cv2

        units_per_px = CANONICAL_SHORT / min(height, width)
        nx = int(np.ceil(width * units_per_px / CHIP)) + 2
        ny = int(np.ceil(height * units_per_px / CHIP)) + 2
        tile = self.chip_tile(coded)
        grid = np.tile(tile, (ny // CHIPS + 1, nx // CHIPS + 1))[:ny, :nx].astype(np.float32)
        # pixel centre x + 0.5 lies at (x + 0.5) * units_per_px units, i.e. at that / CHIP
        # chips, and chip j's centre is at j + 0.5 chips
        xs = ((np.arange(width) + 0.5) * units_per_px / CHIP - 0.5).astype(np.float32)
        ys = ((np.arange(height) + 0.5) * units_per_px / CHIP - 0.5).astype(np.float32)
        map_x, map_y = np.meshgrid(xs, ys)
        return cv2.remap(grid, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _units(chips: np.ndarray) -> np.ndarray:
    """A flat chip vector as a TILE x TILE image (each chip CHIP x CHIP units)."""
    return np.kron(chips.reshape(CHIPS, CHIPS), np.ones((CHIP, CHIP))).astype(np.float32)


def whiten(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` minus its Gaussian blur: what is left is the band the mark lives in."""
    import cv2

    return image - cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def whiten_periodic(tile: np.ndarray) -> np.ndarray:
    """``whiten`` for a tile that repeats (the blur wraps around its edges)."""
    big = np.tile(tile, (3, 3))
    return whiten(big, WHITEN_SIGMA)[TILE : 2 * TILE, TILE : 2 * TILE]


@lru_cache(maxsize=1)
def layout() -> Layout:
    return Layout()
