"""The for-you source of one feed session: picks the next posts to serve.

How a pick is made:

1. **Candidates** (``feed.ranking.candidates.gather``): every source, minus what the
   session must not serve (already served in it, seen before, hidden, from an
   author I muted or who failed the visibility gate, near a topic I marked
   not interested).
2. **Features and score** (``feed.ranking.features``, ``feed.ranking.scoring``) of all of
   them; the best ``SHORTLIST`` are checked once against the user's seen sets
   (``feed.serving.seen``) and kept as the session's shortlist. Posts an earlier
   check of this process found seen (``feed.serving.seen_memory``) are left out
   before that.
3. **Sequence** (``feed.ranking.diversity.select``): author cap, exploration slot and
   MMR over the shortlist, after re-scoring it with the session's current
   interest vector and affinities (cheap: a few hundred rows). When only
   posts the author cap holds back are left, they are served all the same:
   a session ends only when nothing visible and unseen is left (before
   saying so, the pool reads the newest posts).
4. **Gate**: each picked post as it is now (the pool's copy, which edits and
   deletes reach as they happen; a post from outside the pool is read from
   Mongo) goes through ``Viewer.may_see`` with the graph
   around the viewer as it stands now (``graphs``, ``feed.viewer.ViewerGraphs``:
   whom I follow, whom I block or am blocked by; the api process keeps it
   current, ``feed.live.viewer_cache``). A post
   deleted, hidden from me or behind a block is dropped and the next pick
   takes its place. In the usual case a pick reads nothing.

Every event moves the session's interest vector (``feed.ranking.interest``); when it
has turned far enough from the one the shortlist was built with (cosine below
``DRIFT``), or the shortlist runs low or ages, the shortlist is rebuilt. So a
liked topic rises and a skipped one sinks within a few swipes. (Picks re-score
the shortlist with the current taste in between, so a rebuild brings in
candidates, not the taste itself.) With ``defer_rebuilds`` (the swipe
stream), a rebuild that drift or age calls for while the shortlist still
has enough to serve waits for ``refresh``, which the caller runs off the path
to the next item (or at a later event, while the process's rebuild slots are
taken: ``feed.serving.rebuild_slots``); one it runs low on, or a mute, still
comes at once.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from prometheus_client import Counter

from core.stores import Stores
from feed.ranking import interest as taste
from feed.ranking.candidates import gather
from feed.ranking.diversity import RULES, Rules, select
from feed.ranking.features import (
    INDEX,
    PRIORS,
    Priors,
    Table,
    affinity_feature,
    build_table,
    feature_matrix,
    fresh_mask,
    similarity_feature,
    unit,
)
from feed.ranking.pool import PostPool, unix
from feed.ranking.scoring import WEIGHTS, Weights, scores
from feed.serving import seen, sessions
from feed.serving.rebuild_slots import RebuildSlots
from feed.serving.seen_memory import SeenMemory
from feed.serving.sessions import SessionState
from feed.social import posts as feed_posts
from feed.social.posts import Post
from feed.viewer import Viewer, ViewerGraphs

SHORTLIST = 120
BUILDS = Counter("fabula_feed_shortlist_builds", "for-you shortlist builds, by why (later: left for the session's refresh)", ["reason"])
_BUILDS = {r: BUILDS.labels(r) for r in ("first", "taste muted", "used up", "drift", "age", "drift, later", "age, later", "later, slots busy")}
REBUILD_AFTER_S = 30.0
DRIFT = 0.8
TOPIC_MUTE = 0.85  # posts this close to a not-interested post are left out for the session
MAX_TOPICS = 20
CHECKED = 2 * SHORTLIST  # best candidates checked against the seen sets per build: the shortlist is the best unseen of them
CHECKED_KEPT = 8 * CHECKED  # ids found unseen a session remembers; past this it forgets them all and checks again
REUSE_S = REBUILD_AFTER_S  # a shortlist serves this long after it was built, in one session or in the next ones of its user
SHARED_MAX = 5_000  # users whose last shortlist a process keeps at most (each about 200 KB; the oldest go first)
META_KEPT = 48  # served posts whose author, embedding and freshness a session keeps (``_forget_old_meta``):
# the diversity tail (10) and a full window (20) with room; an event on an older post learns it again
SIMILAR_REUSE = 0.97  # the catalogue's last answer serves a taste this close (cosine) to the one it was asked for ...
SIMILAR_KEEP_S = 120.0  # ... for this long
REBUILD_MIN_S = 10.0  # a drifting taste rebuilds the shortlist at most this often (it is re-scored every pick)
EMPTY_REFRESH_S = 0.5  # a pick that finds nothing reads the newest posts first, unless the pool did this recently

@dataclass
class Picked:
    post: Post  # as it stood at the gate, without its embedding
    source: str
    liked: bool | None = None  # by the viewer (None: not read)


@dataclass
class PostMeta:
    author_id: str
    embedding: np.ndarray | None
    fresh: bool


@dataclass
class Shared:
    """A shortlist as its session built it before any event moved its taste:
    a session of the same user taken up within ``REUSE_S`` on the same pool
    with the same taste (a new one, or the next page of one: an HTTP cursor,
    a reconnect) starts from it instead of building one."""

    shortlist: Shortlist
    interest: bytes  # the session's starting taste
    pool_version: int


@dataclass
class Shortlist:
    table: Table
    sources: list[str]
    static: np.ndarray  # feature rows as built; similarity and affinity are recomputed per pick
    fresh: np.ndarray
    built_at: float
    interest: np.ndarray | None
    muted_version: int
    pool_rows: np.ndarray  # each entry's row in the pool (-1: an extra), as the pool stood at ``pool_version``
    pool_version: int


class ForYou:
    kind = "for_you"

    def __init__(
        self,
        stores: Stores,
        pool: PostPool,
        state: SessionState,
        viewer: Viewer,
        graphs: ViewerGraphs | None = None,
        *,
        weights: Weights = WEIGHTS,
        rules: Rules = RULES,
        priors: Priors = PRIORS,
        clock: Callable[[], float] = time.time,
        shared: dict[str, Shared] | None = None,
        seen_memory: SeenMemory | None = None,
        catalogue=None,
        rebuild_slots: RebuildSlots | None = None,
    ):
        self.stores = stores
        self.pool = pool
        self.state = state
        self.viewer = viewer
        self.graphs = graphs  # asked for the viewer's graph as it stands now before each pick (None: ``viewer`` throughout)
        self.weights = weights
        self.rules = rules
        self.priors = priors
        self.clock = clock
        self.shared = shared
        self.seen_memory = seen_memory  # what this process knows the user has seen (left out before the seen check)
        self.catalogue = catalogue  # the catalogue index beyond the pool (``feed.live.catalogue.CatalogueReader``; None: the pool alone)
        self.rebuild_slots = rebuild_slots  # the process's cap on deferred rebuilds at once (``feed.serving.rebuild_slots``; None: no cap)
        self.interest = taste.from_bytes(state.interest)
        self.topics = _topics(state.topics, pool.dim)
        self.affinity: dict[str, float] = {}
        self.long_term: np.ndarray | None = None
        self.out: set[str] = set(state.served)
        self._out_rows = np.zeros(0, dtype=bool)
        self._out_version = -1
        self.bad_authors: set[str] = set()
        self.checked: set[str] = set()  # shortlisted ids found unseen by the user (checked once a session)
        self._start_interest = state.interest
        self._columns: tuple | None = None
        self.meta: dict[str, PostMeta] = {}
        self.extras: Table = build_table([], pool.dim)
        self.muted_version = 0
        self._shortlist: Shortlist | None = None
        self._similar: tuple[int, np.ndarray, list[str], float] | None = None  # the catalogue's last whole answer, as ids (``_catalogue_extras``)
        self.tail_size = max(rules.author_window, rules.explore_every, rules.mmr_memory)
        self.defer_rebuilds = False  # a rebuild drift or age calls for waits for ``refresh`` (module doc)
        self.rebuild_due = False

    @property
    def muted(self) -> set[str]:
        return set(self.state.muted)

    async def prepare(self) -> None:
        """Read what the session starts from, in one round trip: long-term
        taste and, when the user's last shortlist may be taken over
        (``Shared``), which of its posts they have seen since. (What else they
        have seen is checked per shortlist: ``_build``.)"""
        async with self.stores.redis.pipeline(transaction=False) as pipe:
            found = start_commands(pipe, self.stores, self.viewer.user_id, self.pool, self.shared, self.clock())
            replies = await pipe.execute()
        await self.started(found, replies)

    async def started(self, found: Shared | None, replies: list) -> None:
        """Take in what ``start_commands`` read (``prepare``, or a caller that
        read the session itself in the same round trip)."""
        raw, aff, *checked = replies
        self.long_term, self.affinity = taste.loaded(raw, aff)
        if self.interest is None and not self.state.served:
            self.interest = taste.session_start(self.long_term)
            self.state.interest = taste.to_bytes(self.interest)
        self.extras = self.viewer.extras if self.viewer.extras is not None else build_table([], self.pool.dim)
        await self.learn(self.state.served[-self.tail_size :])
        self._start_interest = self.state.interest
        if found is not None and not self.state.muted and found.interest == self.state.interest:
            self._adopt(found, seen.already_found(checked[0]))

    def _adopt(self, found: Shared, already: set[str]) -> None:
        """Start from ``found``, minus ``already``: its posts the user was served
        or viewed since (the sessions that used it since served some)."""
        ids = found.shortlist.table.ids
        self._learn_seen(already)
        self.checked = set(ids) - already
        self._shortlist = found.shortlist

    def _share(self, shortlist: Shortlist) -> None:
        """Offer a new shortlist to the user's next sessions, if it may be taken
        over. Either way, the process's shared shortlists too old for that go
        now: after the first minute of a session its taste has moved, so its
        rebuilds are its own, and theirs would be the only calls left to
        drop what all the sessions opened at once shared at their start."""
        if self.shared is None:
            return
        shares = self.state.interest == self._start_interest and not self.state.muted and not self.bad_authors
        forget_old_shared(self.shared, shortlist.built_at, room=1 if shares else 0)
        if not shares:
            return
        self.shared.pop(self.viewer.user_id, None)  # to the end: the dict stays in the order the shortlists were built
        self.shared[self.viewer.user_id] = Shared(shortlist, self._start_interest, self.pool.version)

    # -- what is known of served posts ---------------------------------------

    async def learn(self, post_ids: list[str]) -> None:
        """Author, embedding and freshness of posts (from the pool, else Mongo)."""
        todo = [pid for pid in dict.fromkeys(post_ids) if pid not in self.meta]
        if not todo:
            return
        in_pool = {pid: row for pid in todo if (row := self.pool.rows.get(pid)) is not None}
        if in_pool:  # one set of array operations for all of them (a resumed session learns its last dozen or so)
            t = self.pool.table
            rows = np.fromiter(in_pool.values(), dtype=np.int64, count=len(in_pool))
            fresh = fresh_mask(t.count("views")[rows], (self.clock() - t.created[rows]) / 3600.0, self.priors)
            has_embedding = t.embeddings[rows].any(axis=1)
            for (pid, row), is_fresh, has in zip(in_pool.items(), fresh.tolist(), has_embedding.tolist()):
                self.meta[pid] = PostMeta(t.authors[row], t.embeddings[row].copy() if has else None, is_fresh)  # not a view of the pool's table
        missing = [pid for pid in todo if pid not in in_pool]
        if missing:
            for post in (await feed_posts.get_posts(self.stores, missing)).values():
                self._remember(post, fresh=False)

    def _remember(self, post: Post, *, fresh: bool) -> None:
        emb = unit(np.asarray(post.embedding, dtype=np.float32)) if post.embedding else None
        self.meta[post.id] = PostMeta(post.author_id, emb, fresh)

    def _history(self, extra: list[str]) -> tuple[list[str], list[bool], np.ndarray | None]:
        ids = (self.state.served + extra)[-self.tail_size :]
        metas = [self.meta.get(pid) for pid in ids]
        authors = [m.author_id if m else "" for m in metas]
        fresh = [m.fresh if m else False for m in metas]
        embs = [m.embedding for m in metas if m is not None and m.embedding is not None]
        return authors, fresh, (np.stack(embs) if embs else None)

    # -- events ----------------------------------------------------------------

    async def on_event(self, post_id: str, event: str, watch_ms: int | None) -> tuple[PostMeta | None, taste.Signal]:
        """Move the session's taste; returns what is known of the post and the signal."""
        sig = taste.signal(event, watch_ms)
        await self.learn([post_id])
        meta = self.meta.get(post_id)
        if meta is None:
            return None, sig
        if sig.interest and meta.embedding is not None:
            self.interest = taste.moved(self.interest, meta.embedding, sig.interest)
            self.state.interest = taste.to_bytes(self.interest)
        if sig.affinity:
            self.affinity[meta.author_id] = self.affinity.get(meta.author_id, 0.0) + sig.affinity
        if event == "not_interested":
            if meta.author_id not in self.state.muted:
                self.state.muted = [*self.state.muted, meta.author_id]
            if meta.embedding is not None:
                rows = [meta.embedding] if self.topics is None else [*self.topics[-(MAX_TOPICS - 1) :], meta.embedding]
                self.topics = np.stack(rows).astype(np.float32)
                self.state.topics = self.topics.tobytes()
            self.muted_version += 1
        return meta, sig

    # -- picking -----------------------------------------------------------------

    async def next(self, n: int) -> list[Picked]:
        picks = await self._next(n)
        if not picks and n > 0:
            # before answering "nothing left": posts published since the pool's last refresh
            version = self.pool.version
            await self.pool.refresh(max_age=EMPTY_REFRESH_S)
            if self.pool.version != version:
                self._shortlist = None
                picks = await self._next(n)
        return picks

    async def _next(self, n: int) -> list[Picked]:
        if self.graphs is not None:
            viewer = await self.graphs.viewer(self.viewer.user_id)
            if viewer is not self.viewer:
                self.viewer = viewer
                if viewer.extras is not None and viewer.extras is not self.extras:
                    self.extras = viewer.extras
                    self._shortlist = None
        picks: list[Picked] = []
        for _ in range(8):
            need = n - len(picks)
            if need <= 0:
                break
            sl, fresh_build = await self._current_shortlist(need)
            if sl is None:
                break
            rows = np.flatnonzero(self._available(sl))
            if len(rows) == 0:
                if fresh_build:
                    break
                self._shortlist = None
                continue
            feats = sl.static[rows].copy()
            direction = unit(self.interest)
            embeddings = sl.table.embeddings[rows]
            feats[:, INDEX["similarity"]] = similarity_feature(embeddings, direction)
            if self.affinity:
                feats[:, INDEX["affinity"]] = affinity_feature(
                    np.asarray([self.affinity.get(sl.table.authors[r], 0.0) for r in rows]), self.priors
                )
            h_authors, h_fresh, h_emb = self._history([p.post.id for p in picks])
            order = select(
                scores(feats, self.weights),
                [sl.table.authors[r] for r in rows],
                embeddings,
                sl.fresh[rows],
                need,
                history_authors=h_authors,
                history_fresh=h_fresh,
                history_embeddings=h_emb,
                rules=self.rules,
            )
            if not order:
                if not fresh_build:
                    self._shortlist = None
                    continue
                # only posts the author cap holds back are left: they come all the same (exhausted
                # must mean that nothing visible and unseen is left, not that diversity ran out)
                order = select(
                    scores(feats, self.weights), [sl.table.authors[r] for r in rows], embeddings, sl.fresh[rows], need,
                    history_authors=h_authors, history_fresh=h_fresh, history_embeddings=h_emb,
                    rules=dataclasses.replace(self.rules, author_cap=0),
                )
                if not order:
                    break
            chosen = [int(rows[i]) for i in order]
            ok = await self._gate([sl.table.ids[r] for r in chosen])
            gone: list[str] = []  # out of the running from now on: the picks kept, and the one dropped
            for r in chosen:
                pid = sl.table.ids[r]
                gone.append(pid)
                if pid not in ok:
                    break  # re-pick from here: the sequence after a dropped item no longer holds
                post = ok[pid]
                emb = sl.table.embeddings[r].copy()  # its own: a view would keep the whole shortlist alive with the session
                self.meta[pid] = PostMeta(post.author_id, emb if emb.any() else None, bool(sl.fresh[r]))
                picks.append(Picked(post, sl.sources[r]))
            self._exclude(gone)
        self._forget_old_meta()
        return picks

    def _forget_old_meta(self) -> None:
        """Keep what is known of the last ``META_KEPT`` posts only: a session
        lasts as long as its user swipes, and an event on an older post learns
        it again (``learn``)."""
        extra = len(self.meta) - META_KEPT
        if extra > META_KEPT // 4:  # in steps, not on every pick
            for pid in list(itertools.islice(self.meta, extra)):
                del self.meta[pid]

    async def _current_shortlist(self, need: int) -> tuple[Shortlist | None, bool]:
        now = self.clock()
        sl = self._shortlist
        direction = unit(self.interest)
        if sl is not None:
            remaining = int(np.count_nonzero(self._available(sl, authors=False)))
            drifted = (direction is not None) and (sl.interest is None or float(direction @ sl.interest) < DRIFT)
            age = now - sl.built_at
            serves = sl.muted_version == self.muted_version and remaining >= max(2 * need, 20)
            due = age > REBUILD_AFTER_S or (drifted and age >= REBUILD_MIN_S)
            if serves and not due:
                return sl, False
            cause = "age" if age > REBUILD_AFTER_S else "drift"  # why it is due
            if serves and self.defer_rebuilds and age <= 2 * REBUILD_AFTER_S:
                if not self.rebuild_due:  # (counted once, however many picks find it still due)
                    self.rebuild_due = True
                    _BUILDS[f"{cause}, later"].inc()
                return sl, False
            reason = cause if serves else "taste muted" if sl.muted_version != self.muted_version else "used up"
        else:
            reason = "first"
        _BUILDS[reason].inc()
        self.rebuild_due = False  # (one left for refresh is this one)
        self._shortlist = await self._build(now, direction)
        if self._shortlist is not None:
            self._share(self._shortlist)
        return self._shortlist, True

    async def refresh(self) -> None:
        """The rebuild a pick found due and left for later (``defer_rebuilds``), if any.
        When the process's rebuild slots are all taken it stays due, for the
        session's next event (``feed.serving.rebuild_slots``)."""
        if not self.rebuild_due:
            return
        slots = self.rebuild_slots
        if slots is not None and not slots.take():
            _BUILDS["later, slots busy"].inc()
            return
        self.rebuild_due = False
        try:
            built = await self._build(self.clock(), unit(self.interest))
        finally:
            if slots is not None:
                slots.give()
        if built is not None:  # (none: nothing to rank now; the shortlist held serves on)
            self._shortlist = built
            self._share(built)

    async def _catalogue_extras(self, now: float, direction: np.ndarray | None) -> Table | None:
        """The catalogue's nearest posts beyond the pool (``feed.live.catalogue``).
        A whole answer is kept and given again while the index version is the
        same, the taste has barely moved (``SIMILAR_REUSE``) and it is younger
        than ``SIMILAR_KEEP_S``: most rebuilds are for age or a few swipes, and
        the search and the id decoding would come out the same. Only the ids
        are kept; the table is made again from the reader's rows."""
        if self.catalogue is None or direction is None:
            return None
        version = self.catalogue.version()
        held = self._similar
        if held is not None and held[0] == version and now - held[3] < SIMILAR_KEEP_S and float(direction @ held[1]) >= SIMILAR_REUSE:
            return self.catalogue.extras(held[2])
        ids, whole = await self.catalogue.similar(direction)
        self._similar = (version, direction, ids, now) if whole else None
        return self.catalogue.extras(ids)

    async def _build(self, now: float, direction: np.ndarray | None) -> Shortlist | None:
        if self.seen_memory is not None:
            self._exclude(self.seen_memory.of(self.viewer.user_id))
        similar = await self._catalogue_extras(now, direction)
        for _ in range(max(6, len(self.pool) // CHECKED + 2)):  # until no unseen candidate is left
            cands = gather(
                self.pool, self.extras, self.viewer, interest=direction, now=now,
                excluded_rows=self._excluded_rows(), exclude_ids=self.out, exclude_authors=self.muted | self.bad_authors,
                similar_extras=similar,
            )
            if len(cands) == 0:
                return None
            feats = self._features(cands, now, direction)
            value = scores(feats, self.weights)
            if self.topics is not None and self.topics.shape[1] == self.pool.dim:
                embeddings = np.concatenate([self.pool.table.embeddings[cands.rows], cands.extras.embeddings]) if len(cands.extras) else self.pool.table.embeddings[cands.rows]
                near = np.max(embeddings @ self.topics.T, axis=1) >= TOPIC_MUTE
                value = np.where(near, -np.inf, value)
            order = _best(value, CHECKED)
            ids = cands.ids(self.pool, order)
            # the user's seen sets are checked once per post and session: what this
            # session serves goes into ``out`` itself
            unchecked = [pid for pid in ids if pid not in self.checked]
            already = await seen.already(self.stores, self.viewer.user_id, unchecked) if unchecked else set()
            if len(self.checked) > CHECKED_KEPT:  # a long session would keep every post it ever considered
                self.checked.clear()
            self.checked.update(pid for pid in unchecked if pid not in already)
            self._learn_seen(already)
            keep = np.asarray([i for i, pid in zip(order, ids) if pid not in already][:SHORTLIST], dtype=np.int64)
            if len(keep):
                n = len(cands.rows)
                keep = np.concatenate([keep[keep < n], keep[keep >= n]])  # the order Candidates.table gives
                return Shortlist(
                    table=cands.table(self.pool, keep),
                    sources=[cands.sources[i] for i in keep],
                    static=feats[keep],
                    fresh=feats[keep, INDEX["fresh"]] > 0.5,
                    built_at=now,
                    interest=direction,
                    muted_version=self.muted_version,
                    pool_rows=np.concatenate([cands.rows[keep[keep < n]], np.full(int(np.count_nonzero(keep >= n)), -1)]),
                    pool_version=self.pool.version,
                )
            if not ids:
                return None
        return None

    def _features(self, cands, now: float, direction: np.ndarray | None) -> np.ndarray:
        """The feature matrix of the candidates: the pool's shared columns
        (``PostPool.static_features``) plus the viewer's own, computed over the
        pool's rows by author rather than post by post."""
        rows = cands.rows
        feats = self.pool.static_features(now, self.priors)[rows]
        if cands.similarity is not None:
            feats[:, INDEX["similarity"]] = np.clip(cands.similarity[rows], -1.0, 1.0)
        following, fof, affinity = self._viewer_columns()
        feats[:, INDEX["following"]] = following[rows]
        feats[:, INDEX["fof"]] = fof[rows]
        if affinity is not None:
            feats[:, INDEX["affinity"]] = affinity[rows]
        if len(cands.extras) == 0:
            return feats
        extra = feature_matrix(
            cands.extras, now=now, interest=direction, affinity=self.affinity,
            following=self.viewer.following, fof=self.viewer.fof, trending=cands.trending[len(rows) :], priors=self.priors,
        )
        return np.concatenate([feats, extra])

    def _viewer_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Following, friends-of-friends and affinity over the pool's rows."""
        key = (self.pool.version, id(self.viewer), len(self.affinity), sum(self.affinity.values()))
        if self._columns is None or self._columns[0] != key:
            n = len(self.pool.table)
            by_author = self.pool.by_author
            viewer, version = self.viewer, self.pool.version
            following = viewer.derived(("following column", version), lambda: self.pool.mask_authors(viewer.following).astype(np.float64))
            fof = viewer.derived(("fof column", version), lambda: self.pool.mask_authors(viewer.fof).astype(np.float64))
            affinity = None
            if self.affinity:
                raw = np.zeros(n)
                for author, value in self.affinity.items():
                    if (rows := by_author.get(author)) is not None:
                        raw[rows] = value
                affinity = affinity_feature(raw, self.priors)
            self._columns = (key, (following, fof, affinity))
        return self._columns[1]

    def _available(self, sl: Shortlist, *, authors: bool = True) -> np.ndarray:
        """A boolean per shortlist entry: not served or seen yet (and, with
        ``authors``, not by an author left out). Read off the pool's column of
        excluded rows while the pool's rows have not moved since the build."""
        if sl.pool_version == self.pool.version and len(sl.pool_rows) and sl.pool_rows.min() >= 0:
            avail = ~self._excluded_rows()[sl.pool_rows]
        else:
            avail = np.asarray([pid not in self.out for pid in sl.table.ids], dtype=bool)
        muted = (self.muted | self.bad_authors) if authors else ()
        if muted:
            avail &= np.asarray([author not in muted for author in sl.table.authors], dtype=bool)
        return avail

    def _learn_seen(self, post_ids: set[str]) -> None:
        """Posts a seen check found seen: out of this session, and remembered for the user's next ones."""
        self._exclude(post_ids)
        if self.seen_memory is not None:
            self.seen_memory.learn(self.viewer.user_id, post_ids)

    def _exclude(self, post_ids) -> None:
        post_ids = [pid for pid in post_ids if pid not in self.out]
        self.out.update(post_ids)
        if self._out_version == self.pool.version:
            rows = [r for r in (self.pool.rows.get(pid) for pid in post_ids) if r is not None]
            if rows:
                self._out_rows[rows] = True

    def _excluded_rows(self) -> np.ndarray:
        """``out`` as a boolean column over the pool, kept across picks (rebuilt when the pool's rows move)."""
        if self._out_version != self.pool.version:
            self._out_rows = self.pool.mask(self.out)
            self._out_version = self.pool.version
        return self._out_rows

    async def _gate(self, post_ids: list[str]) -> dict[str, Post]:
        """The posts among ``post_ids`` that still exist and the viewer may see now."""
        allowed, blocked = await gate(self.stores, self.pool, self.viewer, post_ids)
        self.bad_authors |= blocked
        return allowed


async def posts_by_id(stores: Stores, pool: PostPool, post_ids: list[str]) -> dict[str, Post]:
    """The posts among ``post_ids`` that exist: the pool's copy, Mongo's for a
    post outside the pool (without its embedding)."""
    found = {pid: post for pid in post_ids if (post := pool.post(pid)) is not None}
    missing = [pid for pid in post_ids if pid not in found]
    if missing:
        found.update(await feed_posts.get_posts(stores, missing, embeddings=False))
    return found


async def gate(stores: Stores, pool: PostPool, viewer: Viewer, post_ids: list[str]) -> tuple[dict[str, Post], set[str]]:
    """The posts among ``post_ids`` that still exist and ``viewer`` may see now
    (the pool's copy; Mongo for a post outside it), and the authors of those
    dropped for a block."""
    found = await posts_by_id(stores, pool, post_ids)
    allowed: dict[str, Post] = {}
    blocked_authors: set[str] = set()
    for pid in post_ids:
        post = found.get(pid)
        if post is None or post.author_id == viewer.user_id:
            continue
        if viewer.may_see(post).allowed:
            allowed[pid] = post
        elif post.author_id in viewer.blocked:
            blocked_authors.add(post.author_id)
    return allowed, blocked_authors


def forget_old_shared(shared: dict[str, Shared], now: float, *, room: int = 1) -> None:
    """Make room for ``room`` more in ``shared``, which holds the shortlists in
    the order they were built: drop from its front those too old to be taken
    over (``REUSE_S``), and the oldest while it would hold more than
    ``SHARED_MAX``. What a process keeps is its users of the last ``REUSE_S``
    seconds, not everyone it ever served (each entry holds a whole shortlist,
    about 200 KB)."""
    while shared:
        user_id, oldest = next(iter(shared.items()))
        if len(shared) + room <= SHARED_MAX and now - oldest.shortlist.built_at <= REUSE_S:
            return
        del shared[user_id]


def start_commands(pipe, stores: Stores, user_id: str, pool: PostPool, shared: dict[str, Shared] | None, now: float) -> Shared | None:
    """Queue the reads a for-you session starts with (``ForYou.started`` takes
    them in): the user's long-term taste and, when their last shortlist may be
    taken over, which of its posts they have seen since. Returns that shortlist
    (the session takes it over if its taste and mutes allow, known once read)."""
    taste.load_commands(pipe, stores, user_id)
    found = shared.get(user_id) if shared is not None else None
    if found is None or found.pool_version != pool.version or now - found.shortlist.built_at > REUSE_S:
        return None
    seen.already_commands(pipe, stores, user_id, found.shortlist.table.ids)
    return found


async def load_session(
    stores: Stores, session_id: str, user_id: str, pool: PostPool, shared: dict[str, Shared] | None
) -> tuple[SessionState | None, tuple[Shared | None, list]]:
    """A session taken up again (an HTTP cursor, a reconnect) and what a for-you
    session starts from (``start_commands``), in one round trip. The session is
    None when there is none; the second part goes to ``ForYou.started``."""
    async with stores.redis.pipeline(transaction=False) as pipe:
        count = sessions.load_commands(pipe, stores, session_id)
        last = start_commands(pipe, stores, user_id, pool, shared, time.time())
        replies = await pipe.execute()
    return sessions.loaded(session_id, replies[:count]), (last, replies[count:])


def _best(value: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest finite values, best first."""
    if len(value) > k:
        part = np.argpartition(-value, k - 1)[:k]
    else:
        part = np.arange(len(value))
    part = part[np.argsort(-value[part], kind="stable")]
    return part[np.isfinite(value[part])]


def _topics(raw: bytes, dim: int) -> np.ndarray | None:
    if not raw or len(raw) % (4 * dim):
        return None
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, dim).copy()


__all__ = ["ForYou", "Picked", "PostMeta", "gate", "load_session", "posts_by_id", "start_commands", "unix"]
