"""The catalogue index's writer (``feed.ranking.ann``), run by ``fabula
feed-builder`` beside the opening builder: it reads every public post's
embedding once, builds the index, writes it to the data directory, and
from then on takes in the posts published since, writing a new version
every ``REFRESH_S`` when there are any (readers switch to it atomically).

* New posts are found as the pool finds them (``feed.ranking.pool``): the
  newest ids by a sort on ``_id`` with a small limit, widened while all it
  finds is new, then read by id. The first load reads the whole collection
  once, in pages of a sort on ``_id`` (``core.mongo_compat.pages_by_id``:
  nx-27017 holds a plain find's whole answer before its first batch), so
  rows are in id order from the start.
* The index is trained again from every vector (kept here as float16) when
  the catalogue has grown past ``RETRAIN_GROWTH`` times what it was trained
  on, or past the flat index's limit; otherwise new posts join the trained
  lists.
* A post deleted or made private stays in the index until the next
  training: readers read the posts the index names and drop what is gone
  (``feed.live.catalogue``).

Building runs in a thread (FAISS releases the GIL), so the builder's loop
keeps serving openings meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import numpy as np
from pymongo import DESCENDING

from core import mongo_compat
from core.stores import Stores
from feed.ranking import ann
from feed.social import posts

log = logging.getLogger("fabula.feed.index")

REFRESH_S = 30.0
RETRAIN_GROWTH = 2.0
READ_CHUNK = 1000
FIRST_LOOK = 50


class IndexBuilder:
    def __init__(self, stores: Stores, directory: Path | None = None, *, dim: int = 384, threads: int = 1):
        self.stores = stores
        self.directory = directory or ann.index_dir(stores.settings.data_dir, stores.settings.namespace)
        self.dim = dim
        self.threads = threads
        self.catalogue: ann.Catalogue | None = None
        self.trained_on = 0
        self.ids: list[str] = []
        self.vectors: list[np.ndarray] = []  # float16 chunks, row for row with ``ids``
        self.known: set[str] = set()
        self.last_build_s = 0.0  # wall time of the last build or refresh that wrote a version
        self.last_read_s = 0.0
        self._stop = asyncio.Event()

    @property
    def count(self) -> int:
        return len(self.ids)

    # -- reading -------------------------------------------------------

    def _take(self, docs: list[dict]) -> tuple[list[str], np.ndarray]:
        ids, rows = [], []
        for doc in docs:
            emb = posts.embedding_of(doc)
            if doc["_id"] in self.known or emb is None or len(emb) != self.dim:
                continue
            ids.append(doc["_id"])
            rows.append(emb)
        vectors = np.asarray(rows, dtype=np.float32).reshape(-1, self.dim)
        return ids, vectors

    async def _read_all(self) -> tuple[list[str], np.ndarray]:
        ids: list[str] = []
        parts: list[np.ndarray] = []
        async for docs in mongo_compat.pages_by_id(self.stores, "posts", {"_id": 1, "embedding": 1, "visibility": 1}, READ_CHUNK):
            got, vecs = self._take([doc for doc in docs if doc.get("visibility") == "public"])
            ids += got
            parts.append(vecs)
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
        return ids, vectors  # in id order, as the pages came

    async def _read_new(self) -> tuple[list[str], np.ndarray]:
        col = self.stores.db["posts"]
        look = FIRST_LOOK
        while True:
            newest = [d["_id"] async for d in col.find({}, {"_id": 1}).sort("_id", DESCENDING).limit(look)]
            new = [pid for pid in newest if pid not in self.known]
            if len(new) < len(newest) or len(newest) < look:
                break
            look *= 4
        if not new:
            return [], np.zeros((0, self.dim), dtype=np.float32)
        docs: list[dict] = []
        for start in range(0, len(new), READ_CHUNK):
            part = new[start : start + READ_CHUNK]
            docs += [d async for d in col.find({"_id": {"$in": part}, "visibility": "public"}, {"_id": 1, "embedding": 1})]
        docs.sort(key=lambda d: d["_id"])
        return self._take(docs)

    # -- building ------------------------------------------------------

    async def refresh(self) -> bool:
        """Take in what is new (everything, the first time) and write a
        version when anything changed; True when one was written."""
        started = time.perf_counter()
        ids, vectors = await (self._read_all() if self.catalogue is None else self._read_new())
        self.last_read_s = time.perf_counter() - started
        if self.catalogue is not None and not ids:
            return False
        self.ids += ids
        self.known.update(ids)
        if len(vectors):
            self.vectors.append(vectors.astype(np.float16))
        retrain = (
            self.catalogue is None
            or (self.trained_on < ann.EXACT_BELOW <= self.count)
            or (self.trained_on >= ann.EXACT_BELOW and self.count >= RETRAIN_GROWTH * self.trained_on)
        )
        if retrain:
            every = np.concatenate(self.vectors).astype(np.float32) if self.vectors else np.zeros((0, self.dim), dtype=np.float32)
            self.vectors = [every.astype(np.float16)] if len(every) else []
            catalogue = await asyncio.to_thread(ann.build, list(self.ids), every, threads=self.threads)
            self.trained_on = self.count
        else:
            catalogue = await asyncio.to_thread(ann.add, self.catalogue, ids, vectors)
        await asyncio.to_thread(ann.save, catalogue, self.directory)
        self.catalogue = catalogue
        self.last_build_s = time.perf_counter() - started
        log.info("catalogue index written", extra={"posts": self.count, "version": catalogue.version,
                                                    "seconds": round(self.last_build_s, 2), "trained": retrain})
        return True

    async def run(self, refresh_s: float = REFRESH_S) -> None:
        while not self._stop.is_set():
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away for a moment: try again at the next turn
                log.exception("catalogue index: refresh failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), refresh_s)

    def stop(self) -> None:
        self._stop.set()
