"""The api's heap trim (``core.heap_trim``): glibc keeps memory freed in the
middle of its heap, and ``malloc_trim`` gives those pages back. The test
frees a large stretch below a block that stays allocated (so glibc cannot
give it back on its own) and reads this process's resident memory from
/proc before and after the trim."""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys

import pytest

from core import heap_trim

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")

BLOCK = 64 * 1024  # under glibc's mmap threshold: taken from the heap
BLOCKS = 2048  # 128 MiB


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_the_trim_task_gives_freed_heap_pages_back():
    assert heap_trim.malloc_trim() is not None, "glibc's malloc_trim was not found"
    await asyncio.wait_for(heap_trim.trim_often(0), 1)  # 0: off, returns at once
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    assert all(blocks)
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)  # touched: resident
    pin = libc.malloc(BLOCK)  # above them: the freed stretch is not the heap's top
    task = None
    try:
        for block in blocks:
            libc.free(block)
        freed = resident_bytes()
        await asyncio.sleep(0.3)
        assert freed - resident_bytes() < BLOCK * BLOCKS // 2, "glibc gave the pages back without a trim"
        task = asyncio.create_task(heap_trim.trim_often(0.05))
        await asyncio.sleep(0.5)
        trimmed = resident_bytes()
    finally:
        if task is not None:
            task.cancel()
        libc.free(pin)
    assert freed - trimmed > BLOCK * BLOCKS // 2, (freed, trimmed)
