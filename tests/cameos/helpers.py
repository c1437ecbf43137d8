"""Shared by the cameo store, grant and route tests: users straight in Mongo,
cameos without a recording (a stand-in embedding and frames), the edges
between users."""

from __future__ import annotations

import uuid

import numpy as np

from accounts import graph_writes, users
from cameos import store
from cameos.store import Cameo

JPEG = bytes.fromhex("ffd8ffe000104a46494600") + b"frame" + bytes.fromhex("ffd9")  # stands in for a frame
WAV = b"RIFF" + b"\x00" * 40  # stands in for a voice sample


def face(seed: int) -> list[float]:
    """A unit-ish 128-d descriptor; two seeds are ~1.4 apart, far past the 0.6 threshold."""
    v = np.random.default_rng(seed).normal(size=128)
    return list(v / np.linalg.norm(v))


def near(embedding: list[float], distance: float, seed: int = 99) -> list[float]:
    """A descriptor ``distance`` away from ``embedding``."""
    step = np.random.default_rng(seed).normal(size=128)
    step *= distance / np.linalg.norm(step)
    return list(np.asarray(embedding) + step)


async def new_user(stores, handle: str | None = None) -> users.User:
    return await users.create_user(stores, handle or "c" + uuid.uuid4().hex[:12], "not-a-real-hash")


async def human_cameo(stores, media, owner: users.User, *, seed: int | None = None, frames: int = 3, **settings) -> Cameo:
    cameo = await store.create_cameo(
        stores,
        media,
        owner_id=owner.id,
        kind="human",
        name=owner.handle,
        mention=None,
        embedding=face(seed if seed is not None else hash(owner.id) % 10_000),
        frames=[JPEG] * frames,
        voice=WAV,
    )
    if settings:
        cameo = await store.update_cameo(stores, cameo.id, owner.id, settings)
    return cameo


async def character(stores, media, owner: users.User, mention: str, **settings) -> Cameo:
    cameo = await store.create_cameo(
        stores, media, owner_id=owner.id, kind="character", name=mention.title(), mention=mention,
        embedding=None, frames=[JPEG, JPEG], voice=None,
    )
    if settings:
        cameo = await store.update_cameo(stores, cameo.id, owner.id, settings)
    return cameo


async def follow(stores, a: users.User, b: users.User) -> None:
    await graph_writes.follow(stores, a.id, b.id)


async def mutual(stores, a: users.User, b: users.User) -> None:
    await follow(stores, a, b)
    await follow(stores, b, a)


async def block(stores, a: users.User, b: users.User) -> None:
    await graph_writes.block(stores, a.id, b.id)


async def erase_recorded_faces(settings) -> int:
    """Delete every cameo with a verified face in ``settings``' database, media included.

    Tests that record a real cameo (the astronaut's face) call this when they
    end: one person, one cameo holds across accounts, and on nx-27017 every
    namespace shares the same collections, so a face left behind would make
    the next such test's recording ``likeness_taken``."""
    from cameos.deletion import delete_cameo
    from core.media_store import open_media_store
    from core.stores import open_stores

    stores = open_stores(settings)
    try:
        ids = [doc["_id"] async for doc in stores.db["cameos"].find({"face": True}, {"_id": 1})]
        for cameo_id in ids:
            await delete_cameo(stores, open_media_store(settings), cameo_id)
        return len(ids)
    finally:
        await stores.close()
