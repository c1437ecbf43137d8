"""Handing the C heap's free pages back to the system, on a clock (glibc).

glibc's ``malloc`` keeps the memory freed in the middle of its heap for
later allocations; only a free stretch at the top is given back on its own.
An api process with hundreds of feed sessions allocates and frees many
mid-sized blocks (NumPy shortlists and score tables, decoded documents,
message buffers) between wake-ups, so pages that hold nothing stay counted
in its resident memory. ``malloc_trim(0)`` gives every whole free page back
(``MADV_DONTNEED``) without moving anything; the next allocation there
takes a fresh zeroed page. ``trim_often`` calls it every
``FABULA_HEAP_TRIM_EVERY_S`` seconds, on a thread (it walks the free lists
of each arena under that arena's lock, while the event loop goes on with
the GIL released); ``fabula_heap_trim_seconds`` counts how long each took.
docs/PERFORMANCE.md ("Feed at catalogue scale") has its effect and cost.

Where the C library has no ``malloc_trim`` (not glibc), it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

from prometheus_client import Gauge, Histogram

log = logging.getLogger("fabula.api")

TRIM_SECONDS = Histogram(
    "fabula_heap_trim_seconds", "How long one malloc_trim of the api's heap took",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
LONGEST = Gauge("fabula_heap_trim_longest_seconds", "The longest malloc_trim of the api's heap so far")


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


async def trim_often(every_s: float) -> None:
    """Give the heap's free pages back every ``every_s`` seconds, for the life
    of the task; the longest trim so far is logged when it grows past 50 ms."""
    trim = malloc_trim()
    if trim is None or every_s <= 0:
        return
    longest = 0.0
    while True:
        await asyncio.sleep(every_s)
        began = time.perf_counter()
        await asyncio.to_thread(trim, 0)
        took = time.perf_counter() - began
        TRIM_SECONDS.observe(took)
        if took > longest:
            longest = took
            LONGEST.set(took)
            if took > 0.05:
                log.info("heap trim took longer than before", extra={"seconds": round(took, 3)})
