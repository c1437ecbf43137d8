"""The api process's garbage collector, set for a large, long-lived heap.

After start-up an api process holds a large set of objects that live as
long as it does: imported modules (Litestar, PyMongo, NumPy, the embedding
model's libraries) and the candidate pool. CPython's full collections walk
all of them, which measured 60–200 ms with the pool loaded, a pause of the
whole event loop that every request and swipe in flight waits through
(docs/PERFORMANCE.md, "Feed"). ``freeze_startup_heap`` moves what exists once
start-up is done into the collector's permanent generation, so later
collections walk only what was made since. Those objects are still freed
by reference counting; only cycles among them would outlive their use, and
start-up structures do not turn into garbage."""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("fabula.api")

_frozen = False

# Young collections every 20,000 net allocations instead of 700: most of what a
# request or swipe allocates (coroutines, futures, small lists) is gone by then,
# so far less is promoted and full collections become rare.
THRESHOLDS = (20_000, 20, 50)


def freeze_startup_heap() -> None:
    """Once per process: collect, then freeze everything alive now."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.info("startup heap frozen", extra={"frozen_objects": gc.get_freeze_count()})
