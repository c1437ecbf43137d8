"""The catalogue posts an api process keeps beside its pool, as columns.

``feed.live.catalogue`` reads the posts the catalogue index names beyond the
pool and keeps the last ``capacity`` of them. Each kept post has a slot in a
few fixed arrays: its unit-length embedding, its counters, when it was made
and when it was read; the authors sit in a list beside them (a post's id
is the key of its slot). A post
named again moves to the back of the order, and when every slot is taken the
post used longest ago gives its slot up (``put`` answers whose).

Why columns and not one tuple a post:
* a shortlist's extras are one fancy index of the arrays (``table``), about
  0.03 ms for 200 posts, where building them row by row (normalising each
  embedding, copying seven counters out of a dict) took about 0.7 ms;
* a kept post costs its 1.5 KiB of embedding and 72 bytes of numbers, with
  no array object, tuple or counter dict of its own (2.9 KiB a post before);
* ``reserve`` allocates the arrays whole, and touches them, when the api
  opens an index: sized to the posts it can be asked to keep, so the process
  holds its working size from then on instead of growing into it over the
  first minutes of swipes (docs/PERFORMANCE.md, memory over 10 minutes).
  Without a ``reserve`` the arrays grow by doubling as posts come."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from feed.ranking.features import COUNT_FIELDS, Table, unit

_FIRST = 256  # slots of a block grown without a reserve


class KeptRows:
    def __init__(self, capacity: int, dim: int):
        if capacity < 1:
            raise ValueError("a block of kept rows holds at least one post")
        self.capacity = capacity
        self.dim = dim
        self._slots: OrderedDict[str, int] = OrderedDict()  # id -> slot, the one used longest ago first
        self._free: list[int] = []
        self.authors: list[str | None] = []
        self.embeddings = np.zeros((0, dim), dtype=np.float32)
        self.counts = np.zeros((0, len(COUNT_FIELDS)), dtype=np.float64)
        self.created = np.zeros(0, dtype=np.float64)
        self.read_at = np.zeros(0, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._slots

    @property
    def allocated(self) -> int:
        """Slots the arrays hold now (taken or free)."""
        return len(self.authors)

    def reserve(self, slots: int) -> None:
        """Allocate (and touch) the arrays for ``slots`` posts now, at most
        ``capacity``; a block already that large is left as it is."""
        self._grow(min(max(slots, 0), self.capacity))

    def _grow(self, slots: int) -> None:
        old = self.allocated
        if slots <= old:
            return
        embeddings = np.empty((slots, self.dim), dtype=np.float32)
        embeddings[:old] = self.embeddings
        embeddings[old:] = 0.0  # written now, so the pages are the process's from here on
        counts = np.zeros((slots, len(COUNT_FIELDS)), dtype=np.float64)
        counts[:old] = self.counts
        self.embeddings, self.counts = embeddings, counts
        self.created = np.concatenate([self.created, np.zeros(slots - old)])
        self.read_at = np.concatenate([self.read_at, np.zeros(slots - old)])
        self.authors.extend([None] * (slots - old))
        self._free.extend(range(slots - 1, old - 1, -1))  # the lowest slot is taken first

    def read_at_of(self, post_id: str) -> float | None:
        """When the kept post was read (unix seconds), or None when it is not kept."""
        slot = self._slots.get(post_id)
        return None if slot is None else float(self.read_at[slot])

    def put(self, post_id: str, author_id: str, created: float, embedding, counts: dict | None, read_at: float) -> str | None:
        """Keep (or refresh) one post, as the newest used; answers the id of
        the post that gave its slot up for it, if one did."""
        evicted = None
        slot = self._slots.get(post_id)
        if slot is None:
            if not self._free:
                if self.allocated < self.capacity:
                    self._grow(min(self.capacity, max(_FIRST, 2 * self.allocated)))
                else:
                    evicted, slot = self._slots.popitem(last=False)
                    self.authors[slot] = None
            if slot is None:
                slot = self._free.pop()
            self._slots[post_id] = slot
        else:
            self._slots.move_to_end(post_id)
        vector = None if embedding is None or len(embedding) != self.dim else unit(np.asarray(embedding, dtype=np.float32))
        self.embeddings[slot] = 0.0 if vector is None else vector
        row = self.counts[slot]
        for j, name in enumerate(COUNT_FIELDS):
            row[j] = (counts.get(name, 0) or 0) if counts else 0
        self.authors[slot] = author_id
        self.created[slot], self.read_at[slot] = created, read_at
        return evicted

    def drop(self, post_id: str) -> bool:
        """Forget one post; answers whether it was kept."""
        slot = self._slots.pop(post_id, None)
        if slot is None:
            return False
        self.authors[slot] = None
        self._free.append(slot)
        return True

    def table(self, post_ids: list[str]) -> Table:
        """The kept posts among ``post_ids``, in that order, as a ``Table``;
        each moves to the back of the order (used now)."""
        ids, slots = [], []
        for pid in post_ids:
            slot = self._slots.get(pid)
            if slot is not None:
                self._slots.move_to_end(pid)
                ids.append(pid)
                slots.append(slot)
        taken = np.asarray(slots, dtype=np.int64)
        counts = self.counts[taken]
        return Table(
            ids=ids,
            authors=[self.authors[s] for s in slots],
            created=self.created[taken],
            embeddings=self.embeddings[taken],
            counts={name: counts[:, j] for j, name in enumerate(COUNT_FIELDS)},
        )
