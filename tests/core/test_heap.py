"""The api's collector clock (core.gc_clock.collect_often): young collections
run on a clock, every MIDDLE_EVERY-th one takes the middle generation too."""

from __future__ import annotations

import asyncio
import gc

from core import gc_clock


async def test_the_clock_runs_young_collections_and_every_tenth_takes_the_middle_generation():
    seen: list[int] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(info["generation"])

    automatic = gc.isenabled()
    gc.disable()  # only the clock's collections are counted
    gc.callbacks.append(on_gc)
    clock = asyncio.create_task(gc_clock.collect_often(0.001))
    try:
        for _ in range(5000):
            if len(seen) >= 2 * gc_clock.MIDDLE_EVERY:
                break
            await asyncio.sleep(0.002)
    finally:
        clock.cancel()
        gc.callbacks.remove(on_gc)
        if automatic:
            gc.enable()
    runs = seen[: 2 * gc_clock.MIDDLE_EVERY]
    assert len(runs) == 2 * gc_clock.MIDDLE_EVERY
    assert [i for i, gen in enumerate(runs) if gen == 1] == [gc_clock.MIDDLE_EVERY - 1, 2 * gc_clock.MIDDLE_EVERY - 1]
    assert set(runs) == {0, 1}
