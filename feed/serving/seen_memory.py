"""What one process has learnt of its users' seen sets (``feed.serving.seen``): the
posts a seen check found seen, kept so that the next shortlist of the same
user leaves them out before it checks the rest.

Seen stays seen: a post leaves a seen set only when the set is trimmed
(``seen.MAX_SEEN`` newer entries, or a month idle) or when a page takes it
back before anyone saw it, or a closed session gives back what its client
never reached (``sessions.replace_tail``). Leaving such a post
out for a while longer never serves anything twice; it only leaves one
candidate out. Without this memory a user who has scrolled far gets the same
best candidates checked, and found seen, at every shortlist: in the opening
builder, 320 of the 380 posts checked per build once users had taken about
30 pages, and a second shortlist built because too few of the first were
left.

Bounded: ``USERS`` users, the least recently used forgotten first, and
``PER_USER`` posts each (a user past it starts over)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

USERS = 2_000
PER_USER = 1_000


class SeenMemory:
    def __init__(self, *, users: int = USERS, per_user: int = PER_USER):
        self.users = users
        self.per_user = per_user
        self._seen: OrderedDict[str, set[str]] = OrderedDict()

    def of(self, user_id: str) -> set[str]:
        """The posts known to be seen by the user (empty: none known)."""
        found = self._seen.get(user_id)
        if found is None:
            return set()
        self._seen.move_to_end(user_id)
        return found

    def learn(self, user_id: str, post_ids: Iterable[str]) -> None:
        """Remember that the user has seen ``post_ids``."""
        post_ids = set(post_ids)
        if not post_ids:
            return
        found = self._seen.get(user_id)
        if found is None or len(found) + len(post_ids) > self.per_user:
            found = self._seen[user_id] = set()
        self._seen.move_to_end(user_id)
        found.update(list(post_ids)[: self.per_user])
        while len(self._seen) > self.users:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)
