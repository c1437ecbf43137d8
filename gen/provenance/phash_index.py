"""Find stored perceptual hashes near a query hash, fast at millions of hashes.

Multi-index hashing: a 64-bit hash is cut into four 16-bit bands. Two hashes
within ``RADIUS`` bits of each other agree within ``RADIUS // 4`` bits in at
least one band (pigeonhole), so a lookup probes, in each band, every value
within that many bits of the query's band (137 values for 2 bits), takes the
stored hashes filed under them as candidates and keeps those whose full
Hamming distance is within the radius. Nothing is missed, and at a million
hashes a lookup looks at a few thousand candidates instead of all of them.

Each band is a sorted array (numpy) with an offset per band value; hashes
added since the last build wait in a small list that is scanned directly and
folded in when it grows past an eighth of the index.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

BANDS = 4
BAND_BITS = 16
RADIUS = 10  # the widest search (bits of 64)
_BAND_MASK = (1 << BAND_BITS) - 1


def _probe_masks(bits: int, radius: int) -> np.ndarray:
    masks = [0]
    for r in range(1, radius + 1):
        for chosen in itertools.combinations(range(bits), r):
            masks.append(sum(1 << b for b in chosen))
    return np.array(masks, dtype=np.int64)


_MASKS = _probe_masks(BAND_BITS, RADIUS // BANDS)


def _bands(hashes: np.ndarray) -> np.ndarray:
    """(n, BANDS) band values of uint64 hashes."""
    return np.stack([((hashes >> np.uint64(BAND_BITS * b)) & np.uint64(_BAND_MASK)).astype(np.int64) for b in range(BANDS)], axis=1)


class HashIndex:
    """Hashes, each filed under an owner id (a video id). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._owners = np.zeros(0, dtype=np.int64)  # index into self._ids
        self._order: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * BANDS
        self._offsets: list[np.ndarray] = [np.zeros((1 << BAND_BITS) + 1, dtype=np.int64)] * BANDS
        self._pending_hashes: list[int] = []
        self._pending_owners: list[int] = []
        self._ids: list[str] = []
        self._id_number: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._hashes) + len(self._pending_hashes)

    def _number(self, owner: str) -> int:
        number = self._id_number.get(owner)
        if number is None:
            number = self._id_number[owner] = len(self._ids)
            self._ids.append(owner)
        return number

    def add(self, owner: str, hashes) -> None:
        with self._lock:
            number = self._number(owner)
            for h in hashes:
                self._pending_hashes.append(int(h))
                self._pending_owners.append(number)
            if len(self._pending_hashes) > max(4096, len(self._hashes) // 8):
                self._build()

    def add_many(self, owners: list[str], hashes: np.ndarray) -> None:
        """Bulk load: ``hashes[i]`` (uint64) filed under ``owners[i]``."""
        with self._lock:
            numbers = [self._number(o) for o in owners]
            self._pending_hashes.extend(int(h) for h in np.asarray(hashes, dtype=np.uint64))
            self._pending_owners.extend(numbers)
            self._build()

    def _build(self) -> None:
        if self._pending_hashes:
            self._hashes = np.concatenate([self._hashes, np.array(self._pending_hashes, dtype=np.uint64)])
            self._owners = np.concatenate([self._owners, np.array(self._pending_owners, dtype=np.int64)])
            self._pending_hashes, self._pending_owners = [], []
        bands = _bands(self._hashes)
        self._order, self._offsets = [], []
        for b in range(BANDS):
            order = np.argsort(bands[:, b], kind="stable")
            self._order.append(order)
            self._offsets.append(np.searchsorted(bands[order, b], np.arange((1 << BAND_BITS) + 1)))

    def search(self, query: int, radius: int = RADIUS) -> list[tuple[str, int]]:
        """``(owner, distance)`` for every stored hash within ``radius`` bits
        of ``query``, nearest first (one row per stored hash)."""
        if radius > RADIUS:
            raise ValueError(f"the index answers radii up to {RADIUS}")
        q = np.uint64(query)
        with self._lock:
            hashes, owners, orders, offsets = self._hashes, self._owners, self._order, self._offsets
            pending = list(zip(self._pending_hashes, self._pending_owners))
        found: list[tuple[int, int]] = []
        if len(hashes):
            qbands = _bands(np.array([q], dtype=np.uint64))[0]
            picked = []
            for b in range(BANDS):
                probes = qbands[b] ^ _MASKS
                starts, ends = offsets[b][probes], offsets[b][probes + 1]
                lengths = ends - starts
                total = int(lengths.sum())
                if total == 0:
                    continue
                # the concatenated ranges [starts[i], ends[i]) without a Python loop
                keep = lengths > 0
                first, size = starts[keep], lengths[keep]
                steps = np.ones(total, dtype=np.int64)
                steps[0] = first[0]
                steps[np.cumsum(size)[:-1]] = first[1:] - (first[:-1] + size[:-1]) + 1
                picked.append(orders[b][np.cumsum(steps)])
            if picked:
                candidates = np.unique(np.concatenate(picked))
                distances = np.bitwise_count(hashes[candidates] ^ q)
                near = distances <= radius
                found.extend(zip(owners[candidates[near]].tolist(), distances[near].tolist()))
        for h, owner in pending:
            d = (h ^ int(query)).bit_count()
            if d <= radius:
                found.append((owner, d))
        found.sort(key=lambda row: row[1])
        ids = self._ids
        return [(ids[o], d) for o, d in found]


class Match:
    """One stored video near a copy: how many of the copy's frames fell near
    its hashes, and how near."""

    __slots__ = ("video_id", "matched_frames", "query_frames", "best_distance", "mean_distance")

    def __init__(self, video_id: str, matched_frames: int, query_frames: int, best_distance: int, mean_distance: float) -> None:
        self.video_id, self.matched_frames, self.query_frames = video_id, matched_frames, query_frames
        self.best_distance, self.mean_distance = best_distance, mean_distance

    @property
    def identified(self) -> bool:
        """At least two of the copy's frames near this video (the one frame of a picture)."""
        return self.matched_frames >= min(2, self.query_frames)

    @property
    def confidence(self) -> float:
        """1 at identical hashes, 0 at the 32 bits unrelated pictures differ in."""
        return round(max(0.0, 1.0 - self.mean_distance / 32.0), 3) if self.identified else 0.0


def match_copy(index: HashIndex, query_hashes: list[int], radius: int = RADIUS) -> list[Match]:
    """The stored videos the copy's frame hashes fall near, best first."""
    per_video: dict[str, dict[int, int]] = {}
    for i, h in enumerate(query_hashes):
        for owner, d in index.search(h, radius):
            frames = per_video.setdefault(owner, {})
            frames[i] = min(d, frames.get(i, 64))
    matches = [
        Match(owner, len(frames), len(query_hashes), min(frames.values()), sum(frames.values()) / len(frames))
        for owner, frames in per_video.items()
    ]
    matches.sort(key=lambda m: (-m.matched_frames, m.mean_distance))
    return matches
