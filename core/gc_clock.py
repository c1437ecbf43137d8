"""The api process's garbage collector, set for a large, long-lived heap.

After start-up an api process holds a large set of objects that live as
long as it does: imported modules (Litestar, PyMongo, NumPy, the embedding
model's libraries) and the candidate pool. CPython's full collections walk
all of them, a pause of the whole event loop that every request and swipe
in flight waits through (docs/PERFORMANCE.md, "Feed", has the figures).
``freeze_startup_heap`` moves what exists once start-up is done into the
collector's permanent generation, so later collections walk only what was
made since. Those objects are still freed by reference counting; only
cycles among them would outlive their use, and start-up structures do not
turn into garbage.

Young collections run on a clock (``collect_often``), not only on
allocations. CPython starts one when allocations outnumber deallocations by
a threshold; a server whose every wake-up frees the coroutines and futures
it made at the last one (hundreds of WebSocket sessions) keeps that balance
near zero, so the young generation fills with every session's current
awaitables until something else tips it, and then one collection walks all
of them while the event loop stands still. Collected every
``YOUNG_EVERY_S``, each walks only what was made since."""

from __future__ import annotations

import asyncio
import gc
import logging

log = logging.getLogger("fabula.api")

_frozen = False

# Young collections every 20,000 net allocations instead of 700: most of what a
# request or swipe allocates (coroutines, futures, small lists) is gone by then,
# so far less is promoted and full collections become rare.
THRESHOLDS = (20_000, 20, 50)
YOUNG_EVERY_S = 0.05  # a young collection this often ...
MIDDLE_EVERY = 10  # ... every 10th of them the middle generation too ...
FULL_EVERY = 600  # ... and every 600th of those (5 minutes) everything not frozen


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


async def collect_often(every_s: float = YOUNG_EVERY_S) -> None:
    """Run the collector's young (and, less often, older) collections on a clock,
    for the life of the task (see the module doc). The allocation thresholds
    stay as a backstop for a burst."""
    young = 0
    while True:
        await asyncio.sleep(every_s)
        young += 1
        if young % (MIDDLE_EVERY * FULL_EVERY) == 0:
            gc.collect(2)
        elif young % MIDDLE_EVERY == 0:
            gc.collect(1)
        else:
            gc.collect(0)
