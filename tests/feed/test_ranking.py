"""The for-you ranking: features, scoring, diversity and taste as pure
functions; then its properties end to end through ``GET /v1/feed?kind=for_you``
on a live api: fresh posts get exposure, the author cap holds, seen items
never repeat, and blocked, hidden and invisible posts stay out.

Each end-to-end test gets its own world: a fresh namespace (database and
Redis prefix) on the session's servers, seeded first, then its own api
process, so no other test's posts take part in the ranking.

Seeding writes post documents as ``feed.publishing.publish`` writes them
(``feed.social.posts.post_doc``, counters preset where a test needs
engagement), with embeddings from ``feed.ranking.embeddings.embed_texts`` of
``post_text(prompt, caption)`` as at publish, and ids minted at the posts'
creation times. Everything read back goes through the api's own code."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import numpy as np
import pytest
from ulid import ULID

from accounts import tokens, users
from core.embedded import EmbeddedServices
from core.settings import Settings
from core.stores import Stores, open_stores
from feed.ranking import diversity, features, interest, scoring
from feed.ranking.embeddings import embed_async, post_text
from feed.ranking.features import FEATURES, Priors
from feed.social.posts import Post, post_doc
from tests.procs import Api, start_api

# --- worlds: an isolated namespace with its own api processes ------------------


@dataclass
class World:
    settings: Settings
    stores: Stores
    log_dir: Path
    apis: list[Api] = field(default_factory=list)

    def start_api(self) -> Api:
        api = start_api(self.settings, self.log_dir)
        self.apis.append(api)
        return api

    @property
    def api(self) -> Api:
        return self.apis[0]


@contextlib.asynccontextmanager
async def new_world(settings: Settings, tmp_root: Path):
    """A namespace of its own, on servers of its own when they are the embedded
    ones (nx-27017 keeps one set of collections whatever the database name, so
    a namespace alone would not keep other tests' posts out)."""
    ns = "f" + uuid.uuid4().hex[:10]
    services = None
    if not (os.environ.get("FABULA_MONGO_URL") and os.environ.get("FABULA_REDIS_URL")):
        services = EmbeddedServices.start(tmp_root / ns / "services")
        settings = msgspec.structs.replace(settings, mongo_url=services.mongo_url, redis_url=services.redis_url)
    isolated = msgspec.structs.replace(settings, namespace=ns, data_dir=tmp_root / ns / "data")
    stores = open_stores(isolated)
    try:
        import server.indexes

        await server.indexes.ensure_all(stores)
        world = World(isolated, stores, tmp_root / ns / "logs")
        try:
            yield world
        finally:
            for api in world.apis:
                api.stop()
            await stores.close()
    finally:
        if services is not None:
            services.stop()


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


# --- seeding ---------------------------------------------------------------------


async def make_user(stores: Stores, prefix: str = "u") -> dict:
    """A user with a bearer token, without the password hashing of signup."""
    user = await users.create_user(stores, f"{prefix}{uuid.uuid4().hex[:10]}", "not-a-real-hash")
    issued = await tokens.issue(stores, user.id)
    return {"user": msgspec.to_builtins(user), "token": issued.token, "headers": {"Authorization": f"Bearer {issued.token}"}}


async def make_authors(stores: Stores, n: int) -> list[str]:
    return [(await users.create_user(stores, f"a{uuid.uuid4().hex[:12]}", "x")).id for _ in range(n)]


def post_id_at(when: datetime) -> str:
    return "post_" + str(ULID.from_timestamp(when.timestamp())).lower()


async def seed_posts(stores: Stores, specs: list[dict]) -> list[Post]:
    """Insert posts as publish would; a spec is ``{author_id, caption, prompt?,
    visibility?, age_h?, counts?}``. Returns them in the order given."""
    texts = [post_text(s.get("prompt", ""), s["caption"]) for s in specs]
    distinct = list(dict.fromkeys(texts))
    vectors = dict(zip(distinct, await embed_async(distinct)))
    now = datetime.now(UTC)
    made, docs = [], []
    for i, (spec, text) in enumerate(zip(specs, texts)):
        # distinct, time-ordered ids: a microsecond apart keeps the given order among equal ages
        created = now - timedelta(hours=spec.get("age_h", 0.0)) - timedelta(milliseconds=len(specs) - i)
        post = Post(
            id=post_id_at(created),
            author_id=spec["author_id"],
            video_id=f"video_{str(ULID()).lower()}",
            caption=spec["caption"],
            created_at=created,
            visibility=spec.get("visibility", "public"),
            prompt=spec.get("prompt", ""),
            embedding=vectors[text],
        )
        doc = post_doc(post)
        doc.update(spec.get("counts", {}))
        docs.append(doc)
        made.append(post)
    await stores.db["posts"].insert_many(docs)
    return made


async def for_you_pages(http: httpx.AsyncClient, user: dict, limit: int, *, cursor: str | None = None, max_pages: int | None = None) -> list[list[dict]]:
    """Pages of one for-you session until it ends (or ``max_pages`` of them)."""
    pages = []
    while True:
        params = {"kind": "for_you", "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await http.get("/v1/feed", params=params, headers=user["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["kind"] == "for_you" and body["object"] == "list"
        if body["data"]:
            pages.append(body["data"])
        cursor = body["next_cursor"]
        if cursor is None or not body["data"] or len(pages) == max_pages:
            return pages
        assert len(pages) < 200, "the cursor never ends"


def ids_of(pages: list[list[dict]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


# --- features ----------------------------------------------------------------------


def test_smoothed_rates_start_at_the_prior_and_follow_the_evidence():
    priors = Priors()
    none = features.like_feature(np.array([0]), np.array([0]), priors)
    assert none[0] == pytest.approx(0.5)  # an unseen post is average
    lucky = features.like_feature(np.array([1]), np.array([1]), priors)[0]
    proven = features.like_feature(np.array([300]), np.array([1000]), priors)[0]
    poor = features.like_feature(np.array([0]), np.array([1000]), priors)[0]
    assert 0.5 < lucky < proven < 1.0  # one like of one view is not proof
    assert poor < 0.2
    done = features.complete_feature(np.array([0, 900]), np.array([0, 1000]), priors)
    assert done[0] == pytest.approx(priors.complete_rate) and done[1] > 0.85
    watch = features.watch_feature(np.array([0, 12_000_000]), np.array([0, 1000]), priors)
    assert 0 < watch[0] < watch[1] < 1


def test_recency_halves_every_half_life_and_freshness_needs_youth_and_few_views():
    priors = Priors(half_life_h=24.0)
    r = features.recency_feature(np.array([0.0, 24.0, 48.0]), priors)
    assert r == pytest.approx([1.0, 0.5, 0.25])
    fresh = features.fresh_mask(np.array([0, 10, 500, 0]), np.array([1.0, 47.0, 1.0, 49.0]), priors)
    assert fresh.tolist() == [True, True, False, False]


def test_every_feature_has_a_documented_weight():
    weights = scoring.WEIGHTS.vector()
    assert len(weights) == len(FEATURES)
    doc = scoring.__doc__ or ""
    for name in FEATURES:
        assert f"| {name} |" in doc, f"{name} is missing from the weights table"
    assert weights[features.INDEX["similarity"]] == max(weights)  # taste leads


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_similar_posts_score_higher_for_the_same_engagement():
    emb = np.stack([_unit([1, 0, 0]), _unit([0, 1, 0])])
    table = features.Table(ids=["a", "b"], authors=["x", "y"], created=np.array([1000.0, 1000.0]), embeddings=emb)
    feats = features.feature_matrix(table, now=1000.0, interest=_unit([1, 0.1, 0]), affinity={}, following=set(), fof=set())
    s = scoring.scores(feats)
    assert s[0] > s[1]
    # and an author I keep skipping sinks
    feats = features.feature_matrix(table, now=1000.0, interest=None, affinity={"x": -10.0}, following=set(), fof=set())
    s = scoring.scores(feats)
    assert s[0] < s[1]


# --- diversity ------------------------------------------------------------------------


def test_author_cap_holds_whatever_the_scores():
    rules = diversity.Rules(author_cap=2, author_window=10)
    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(5, 60))
        authors = [f"a{int(x)}" for x in rng.integers(0, int(rng.integers(2, 12)), n)]
        scores = rng.normal(size=n) + np.where(np.array(authors) == "a0", 5.0, 0.0)  # one author dominates
        emb = rng.normal(size=(n, 8)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        history = [f"a{int(x)}" for x in rng.integers(0, 3, int(rng.integers(0, 12)))]
        if not diversity.author_cap_holds(history, 2, 10):
            history = []
        picked = diversity.select(scores, authors, emb, np.zeros(n, bool), 20, history_authors=history, rules=rules)
        assert len(set(picked)) == len(picked)
        assert diversity.author_cap_holds(history + [authors[i] for i in picked], 2, 10), trial


def test_within_cap_keeps_what_holds_the_cap_once_gaps_close():
    # made under the cap: a at 0, 5 and 10 are never three in ten ...
    made = ["a", "b", "c", "z", "d", "a", "e", "f", "g", "h", "a", "i"]
    assert diversity.author_cap_holds(made, 2, 10)
    # ... until z goes: the third a comes within ten of the first and must go too
    gone = [x for x in made if x != "z"]
    assert diversity.within_cap(gone) == [x_i != 9 for x_i in range(len(gone))]
    assert diversity.within_cap(made) == [True] * len(made)  # nothing to drop where the cap holds
    # the history counts: one more a just before leaves room for a single a in the next nine
    assert diversity.within_cap(["a", "b", "a", "c"], ["a"]) == [True, True, False, True]
    rng = np.random.default_rng(3)
    for trial in range(200):
        history = [f"a{int(x)}" for x in rng.integers(0, 4, int(rng.integers(0, 12)))]
        seq = [f"a{int(x)}" for x in rng.integers(0, 4, int(rng.integers(0, 30)))]
        keep = diversity.within_cap(seq, history)
        kept = [a for a, ok in zip(seq, keep) if ok]
        if diversity.author_cap_holds(history, 2, 10):
            assert diversity.author_cap_holds(history + kept, 2, 10), trial
        # an entry dropped would have broken the cap where it stood
        for i, ok in enumerate(keep):
            if not ok:
                before = history + [a for a, k in zip(seq[:i], keep[:i]) if k]
                assert before[-9:].count(seq[i]) >= 2, trial


def _select_by_the_rules(scores, authors, emb, fresh, n, history_authors, history_fresh, history_emb, rules):
    """``diversity.select`` as its docstring states it, one position at a time, by brute force."""
    seq_a, seq_f = list(history_authors), list(history_fresh)
    recent = [] if history_emb is None or rules.mmr_memory <= 0 else list(history_emb[-rules.mmr_memory :])
    picked: list[int] = []
    for _ in range(n):
        window = seq_a[-(rules.author_window - 1) :] if rules.author_window > 1 else []
        eligible = [
            i for i in range(len(scores))
            if i not in picked and not (rules.author_cap > 0 and rules.author_window > 1 and window.count(authors[i]) >= rules.author_cap)
        ]
        if not eligible:
            break
        run = seq_f[-(rules.explore_every - 1) :] if rules.explore_every > 1 else []
        if rules.explore_every > 1 and len(run) == rules.explore_every - 1 and not any(run) and any(fresh[i] for i in eligible):
            eligible = [i for i in eligible if fresh[i]]

        def value(i):
            # MMR: similarity to the recent history (0 without one) and to this call's picks
            floor = max(float(emb[i] @ e) for e in recent) if recent else 0.0
            sim = max([floor] + [float(emb[i] @ emb[j]) for j in picked])
            return scores[i] - rules.mmr_penalty * sim

        best = max(eligible, key=lambda i: (value(i), -i))
        picked.append(best)
        seq_a.append(authors[best])
        seq_f.append(bool(fresh[best]))
    return picked


@pytest.mark.parametrize(
    "trials, rows, positions",
    [(300, (1, 40), (1, 15)), (30, (diversity.PAIRWISE_FROM, 60), (diversity.PAIRWISE_FROM, 50))],
    ids=["one product per position", "pairwise products up front"],
)
def test_select_follows_its_rules_position_by_position(trials, rows, positions):
    rng = np.random.default_rng(11)
    for trial in range(trials):
        m = int(rng.integers(*rows))
        emb = rng.normal(size=(m, 6)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        scores = rng.random(m) * 2
        authors = [f"a{int(x)}" for x in rng.integers(0, 6, m)]
        fresh = rng.random(m) < 0.2
        h = int(rng.integers(0, 6))
        hist_a = [f"a{int(x)}" for x in rng.integers(0, 6, h)]
        hist_f = [bool(x) for x in rng.random(h) < 0.2]
        hist_e = emb[: min(h, m)] if h and trial % 3 else None
        rules = diversity.Rules(
            author_cap=int(rng.integers(0, 3)), author_window=int(rng.integers(1, 8)), explore_every=int(rng.integers(0, 6)),
            mmr_penalty=float(rng.choice([0.0, 0.5, 1.0])), mmr_memory=int(rng.integers(0, 4)),
        )
        n = int(rng.integers(*positions))
        got = diversity.select(scores, authors, emb, fresh, n, history_authors=hist_a, history_fresh=hist_f,
                               history_embeddings=hist_e, rules=rules)
        want = _select_by_the_rules(scores, authors, emb, fresh, n, hist_a, hist_f, hist_e, rules)
        assert got == want, (trial, rules)


def test_exploration_slot_reaches_fresh_posts_that_score_last():
    n = 30
    scores = np.concatenate([np.linspace(10, 9, 25), np.zeros(5)])  # the 5 fresh ones score last
    fresh = np.array([False] * 25 + [True] * 5)
    authors = [f"a{i}" for i in range(n)]
    emb = np.eye(n, dtype=np.float32)
    picked = diversity.select(scores, authors, emb, fresh, 20, rules=diversity.Rules(explore_every=5))
    flags = [bool(fresh[i]) for i in picked]
    for start in range(len(flags) - 4):
        assert any(flags[start : start + 5]), flags
    # without the slot none would make it
    plain = diversity.select(scores, authors, emb, fresh, 20, rules=diversity.Rules(explore_every=0))
    assert not any(fresh[i] for i in plain)


def test_mmr_spreads_near_duplicates():
    dupes = [_unit([1, 0.01 * i, 0, 0]) for i in range(5)]
    other = [_unit([0, 1, 0.1 * i, 0]) for i in range(5)]
    emb = np.stack(dupes + other)
    scores = np.array([1.0, 0.99, 0.98, 0.97, 0.96, 0.9, 0.89, 0.88, 0.87, 0.86])
    picked = diversity.select(scores, [f"a{i}" for i in range(10)], emb, np.zeros(10, bool), 4, rules=diversity.Rules(mmr_penalty=1.0))
    groups = ["dupe" if i < 5 else "other" for i in picked]
    assert groups[:2] == ["dupe", "other"], groups  # the second near-duplicate waits


# --- taste ------------------------------------------------------------------------------


def test_likes_pull_the_interest_vector_and_skips_push_it_away():
    cats, skiing = _unit([1, 0, 0]), _unit([0, 1, 0])
    v = None
    for event, emb in [("like", cats), ("skip", skiing), ("like", cats), ("skip", skiing)]:
        v = interest.moved(v, emb, interest.signal(event).interest)
    d = features.unit(v)
    assert float(d @ cats) > 0.7 and float(d @ skiing) < -0.3
    assert interest.signal("view", 5000).interest > 0 > interest.signal("view", 200).interest
    assert interest.signal("impression") == interest.Signal(0.0, 0.0)
    with pytest.raises(ValueError):
        interest.signal("dance")


# --- end to end through GET /v1/feed?kind=for_you ----------------------------------------


async def test_fresh_posts_get_exposure_among_established_ones(world):
    authors = await make_authors(world.stores, 45)
    popular = await seed_posts(
        world.stores,
        [
            {"author_id": authors[i], "caption": f"a well loved clip number {i}", "age_h": 3 + i * 0.1,
             "counts": {"views": 5000, "likes": 900, "completes": 3500, "watch_ms": 5000 * 9000, "shares": 50}}
            for i in range(40)
        ],
    )
    fresh = await seed_posts(world.stores, [{"author_id": authors[40 + i], "caption": f"brand new upload {i}"} for i in range(5)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        served = ids_of(await for_you_pages(http, viewer, 10, max_pages=2))[:20]
    fresh_ids = {p.id for p in fresh}
    assert len(served) == 20 and set(served) <= {p.id for p in popular} | fresh_ids
    flags = [pid in fresh_ids for pid in served]
    # every run of 5 consecutive items holds a fresh post, though each scores below every established one
    for start in range(len(flags) - 4):
        assert any(flags[start : start + 5]), flags
    assert sum(flags) >= 4


async def test_author_cap_holds_in_the_served_feed(world):
    authors = await make_authors(world.stores, 16)
    prolific, others = authors[0], authors[1:]
    specs = [{"author_id": prolific, "caption": f"the star creator again, take {i}",
              "counts": {"views": 900, "likes": 400, "completes": 800, "watch_ms": 900 * 8000}} for i in range(30)]
    specs += [{"author_id": a, "caption": f"someone else's clip {j} by {a[-4:]}"} for a in others for j in range(2)]
    await seed_posts(world.stores, specs)
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        pages = await for_you_pages(http, viewer, 8, max_pages=5)
    items = [item for page in pages for item in page][:40]
    sequence = [item["author"]["id"] for item in items]
    assert len(sequence) >= 30
    # the cap holds while other authors' posts are left; once they ran out, the
    # prolific author's come all the same (a feed ends only when nothing unseen is left)
    others_end = max(i for i, author in enumerate(sequence) if author != prolific) + 1
    assert others_end >= 30
    assert diversity.author_cap_holds(sequence[:others_end], diversity.RULES.author_cap, diversity.RULES.author_window), sequence
    assert set(sequence[others_end:]) <= {prolific}
    assert Counter(sequence[:others_end])[prolific] >= 3  # the cap was binding, not idle


async def test_seen_items_never_repeat_across_pages_and_sessions(world):
    authors = await make_authors(world.stores, 12)
    made = await seed_posts(world.stores, [{"author_id": authors[i % 12], "caption": f"clip {i} of the day"} for i in range(36)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        watched = made[0].id  # viewed another way before the feed opens: counts as seen
        r = await http.post(f"/v1/posts/{watched}/view", json={"watch_ms": 1200, "completed": False}, headers=viewer["headers"])
        assert r.status_code == 200, r.text

        first = await http.get("/v1/feed", params={"kind": "for_you", "limit": 5}, headers=viewer["headers"])
        body = first.json()
        again = await http.get("/v1/feed", params={"kind": "for_you", "limit": 5}, headers=viewer["headers"])
        assert not {i["id"] for i in body["data"]} & {i["id"] for i in again.json()["data"]}  # a new session, nothing repeated
        # the same cursor gives the same page (a retried request repeats nothing new)
        p1 = await http.get("/v1/feed", params={"kind": "for_you", "limit": 5, "cursor": body["next_cursor"]}, headers=viewer["headers"])
        p1b = await http.get("/v1/feed", params={"kind": "for_you", "limit": 5, "cursor": body["next_cursor"]}, headers=viewer["headers"])
        assert p1.json() == p1b.json()

        session = [i["id"] for i in body["data"]] + [i["id"] for i in p1.json()["data"]]
        session += ids_of(await for_you_pages(http, viewer, 5, cursor=p1.json()["next_cursor"]))
        later = ids_of(await for_you_pages(http, viewer, 7))
        everything = [i["id"] for i in again.json()["data"]] + session + later
        assert len(everything) == len(set(everything)), Counter(everything).most_common(3)
        assert watched not in everything
        assert set(everything) == {p.id for p in made} - {watched}  # and all the rest were shown
        assert ids_of(await for_you_pages(http, viewer, 5)) == []  # nothing left


async def test_blocked_hidden_and_invisible_posts_stay_out(world):
    authors = await make_authors(world.stores, 8)
    viewer = await make_user(world.stores)
    blocker, blocked, followed, stranger, *rest = authors
    normal = await seed_posts(world.stores, [{"author_id": a, "caption": f"ordinary clip {i}"} for i, a in enumerate(rest * 2)])
    bad = await seed_posts(
        world.stores,
        [
            {"author_id": blocker, "caption": "by someone who blocked the viewer"},
            {"author_id": blocked, "caption": "by someone the viewer blocked"},
            {"author_id": stranger, "caption": "followers only, viewer does not follow", "visibility": "followers"},
            {"author_id": stranger, "caption": "only me", "visibility": "private"},
            {"author_id": followed, "caption": "only me, though followed", "visibility": "private"},
            {"author_id": stranger, "caption": "deleted after the pool took it in"},
        ],
    )
    good = await seed_posts(world.stores, [{"author_id": followed, "caption": "followers only, and followed", "visibility": "followers"}])
    from accounts import graph_writes
    from feed.publishing import delete_post

    await graph_writes.block(world.stores, blocker, viewer["user"]["id"])
    await graph_writes.block(world.stores, viewer["user"]["id"], blocked)
    await graph_writes.follow(world.stores, viewer["user"]["id"], followed)
    api = world.start_api()  # its pool now holds the post deleted next
    await delete_post(world.stores, bad[-1].id)
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        served = ids_of(await for_you_pages(http, viewer, 4))
    assert not set(served) & {p.id for p in bad}
    assert set(served) == {p.id for p in normal + good}


async def test_a_page_shows_my_likes_when_served_and_when_asked_again(world):
    """``liked`` on a for_you page: read with the served batch for new items,
    from the likes mirror for a page asked again by its cursor."""
    authors = await make_authors(world.stores, 6)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i}"} for i, a in enumerate(authors * 2)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        first = (await http.get("/v1/feed", params={"kind": "for_you", "limit": 3}, headers=viewer["headers"])).json()
        assert [i["liked"] for i in first["data"]] == [False] * 3
        sid = first["next_cursor"].split(".")[0]
        mine = first["data"][1]["id"]
        r = await http.post(f"/v1/posts/{mine}/like", headers=viewer["headers"])
        assert r.status_code == 200, r.text

        again = (await http.get("/v1/feed", params={"kind": "for_you", "limit": 3, "cursor": f"{sid}.0"}, headers=viewer["headers"])).json()
        assert [i["id"] for i in again["data"]] == [i["id"] for i in first["data"]]
        assert [i["liked"] for i in again["data"]] == [False, True, False]

        after = (await http.get("/v1/feed", params={"kind": "for_you", "limit": 3, "cursor": first["next_cursor"]}, headers=viewer["headers"])).json()
        assert len(after["data"]) == 3 and not {i["id"] for i in after["data"]} & {i["id"] for i in first["data"]}
        assert [i["liked"] for i in after["data"]] == [False] * 3


async def test_for_you_cursor_errors(world):
    viewer, other = await make_user(world.stores), await make_user(world.stores)
    authors = await make_authors(world.stores, 3)
    await seed_posts(world.stores, [{"author_id": a, "caption": "x"} for a in authors])
    api = world.start_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        body = (await http.get("/v1/feed", params={"kind": "for_you", "limit": 1}, headers=viewer["headers"])).json()
        sid = body["next_cursor"].split(".")[0]
        for cursor in ["post_01jzzzzzzzzzzzzzzzzzzzzzzz", "fs_x.1", f"{sid}.99", f"{sid}.-1", f"{sid}", "fs_01jzzzzzzzzzzzzzzzzzzzzzzz.0"]:
            r = await http.get("/v1/feed", params={"kind": "for_you", "cursor": cursor}, headers=viewer["headers"])
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", (cursor, r.text)
        # another user's session is not theirs to read
        r = await http.get("/v1/feed", params={"kind": "for_you", "cursor": body["next_cursor"]}, headers=other["headers"])
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
