"""The swipe stream over /v1/ws (docs/FEED-PROTOCOL.md): a window of ranked
items ahead, more as events come in, adaptation within the session, resume
without repeats or gaps (on another api replica too), not_interested, the
following kind, and the protocol's errors. Each test runs in a world of its
own (tests.feed.test_ranking.new_world)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from feed.serving import sessions
from feed.social import likes
from tests.feed.test_ranking import make_authors, make_user, new_world, seed_posts
from tests.server.test_ws import connect, recv, send

WAIT = 60.0

CATS = [
    "a cat playing the piano", "kitten plays a grand piano in the living room", "my cat performs a piano sonata",
    "tabby cat pressing piano keys with its paws", "fluffy cat composing music on an upright piano",
    "two kittens playing a piano duet", "cat pianist gives a concert", "sleepy cat falls asleep on the piano keys",
    "black cat playing jazz piano", "ginger cat learning to play piano scales",
]
SKIING = [
    "skiing down a snowy mountain", "fresh powder on the ski slopes at dawn", "a skier carving turns in the alps",
    "backcountry skiing through deep snow", "ski jump off a huge kicker", "family ski trip on a sunny mountain",
    "slalom racer skiing through gates", "snowy peaks and a long ski run", "cross country skiing across a frozen valley",
    "skiing off piste between pine trees",
]


@pytest.fixture
async def world(settings, tmp_root):
    async with new_world(settings, tmp_root) as w:
        yield w


async def until(ws, type_: str) -> dict:
    """The next message of ``type_`` (anything else in between is skipped)."""
    while True:
        msg = await recv(ws)
        if msg["type"] == type_:
            return msg
        assert msg["type"] != "error", msg


async def open_feed(ws, **data) -> tuple[dict, list[dict], dict]:
    """feed.open → (feed.session data, items of the feed.items that follow, the last feed.items data)."""
    await send(ws, "feed.open", data, "open")
    session = await recv(ws)
    assert session["type"] == "feed.session" and session.get("id") == "open", session
    items, last = [], None
    while True:
        msg = await until(ws, "feed.items")
        items += msg["data"]["items"]
        last = msg["data"]
        if last["cursor"] == session["data"]["cursor"] + len(items) or last["exhausted"]:
            break
    return session["data"], items, last


async def recv_skipping(ws, skipped: str) -> dict:
    """The next message that is not of type ``skipped``."""
    while (msg := await recv(ws))["type"] == skipped:
        pass
    return msg


async def event(ws, session_id: str, post_id: str, name: str, **extra) -> None:
    await send(ws, "feed.event", {"session_id": session_id, "post_id": post_id, "event": name, **extra})


async def next_items(ws, n: int) -> list[dict]:
    got: list[dict] = []
    while len(got) < n:
        got += (await until(ws, "feed.items"))["data"]["items"]
    return got


def topic(item: dict, cats: set[str]) -> str:
    return "cats" if item["id"] in cats else "skiing"


async def test_open_sends_a_window_and_each_event_keeps_it_full(world):
    authors = await make_authors(world.stores, 12)
    made = await seed_posts(world.stores, [{"author_id": a, "caption": f"clip by author {i}"} for i, a in enumerate(authors)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, last = await open_feed(ws, kind="for_you", window=4)
        sid = session["session_id"]
        assert sid.startswith("fs_") and session["kind"] == "for_you" and session["window"] == 4 and session["cursor"] == 0
        assert [i["index"] for i in items] == [0, 1, 2, 3] and last["cursor"] == 4 and last["exhausted"] is False
        first = items[0]
        assert set(first) >= {"id", "author", "video_id", "caption", "counts", "liked", "content_url", "thumbnail_url", "index", "source"}
        assert first["content_url"] == f"/v1/posts/{first['id']}/content" and first["source"] in ("fresh", "recent", "explore", "trending")
        assert {i["id"] for i in items} <= {p.id for p in made}

        # nothing more while the window is full: a ping is answered before any item
        await send(ws, "ping", {}, "p1")
        assert (await recv(ws))["type"] == "pong"
        assert len((await sessions.load(world.stores, sid)).served) == 4

        await event(ws, sid, items[0]["id"], "impression")
        more = await until(ws, "feed.items")
        assert [i["index"] for i in more["data"]["items"]] == [4] and more["data"]["cursor"] == 5
        await event(ws, sid, items[2]["id"], "view", watch_ms=4000)  # jumping ahead by two serves two
        more = await until(ws, "feed.items")
        assert [i["index"] for i in more["data"]["items"]] == [5, 6]
        # an event with an id is acknowledged after its items
        await send(ws, "feed.event", {"session_id": sid, "post_id": items[1]["id"], "event": "like"}, "e1")
        ack = await until(ws, "feed.ack")
        assert ack["id"] == "e1" and ack["data"]["position"] == 3 and ack["data"]["cursor"] == 7


async def test_a_liked_topic_rises_and_a_skipped_one_sinks_within_the_session(world):
    authors = await make_authors(world.stores, 60)
    specs = []
    for i in range(30):  # interleaved, so neither topic is newer
        specs.append({"author_id": authors[2 * i], "caption": CATS[i % 10] + f", take {i // 10 + 1}"})
        specs.append({"author_id": authors[2 * i + 1], "caption": SKIING[i % 10] + f", take {i // 10 + 1}"})
    made = await seed_posts(world.stores, specs)
    cats = {p.id for p, s in zip(made, specs) if any(s["caption"].startswith(c) for c in CATS)}
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, first, _ = await open_feed(ws, kind="for_you", window=10)
        sid = session["session_id"]
        windows = [first]
        for _ in range(2):
            current = windows[-1]
            for item in current:  # like every cat video, skip every skiing one
                if topic(item, cats) == "cats":
                    await event(ws, sid, item["id"], "like")
                else:
                    await event(ws, sid, item["id"], "skip", watch_ms=400)
            windows.append(await next_items(ws, len(current)))
        share = [sum(topic(i, cats) == "cats" for i in w) / len(w) for w in windows]
        assert 0.1 <= share[0] <= 0.7, share  # a new user starts with a mix
        assert share[1] > share[0] and share[2] >= 0.8, share


async def test_resume_on_another_replica_continues_without_repeats_or_gaps(world):
    authors = await make_authors(world.stores, 20)
    await seed_posts(world.stores, [{"author_id": authors[i % 20], "caption": f"resumable clip {i}"} for i in range(40)])
    viewer = await make_user(world.stores)
    a, b = world.start_api(), world.start_api()
    received: list[dict] = []
    async with connect(a, viewer) as ws:
        session, items, _ = await open_feed(ws, kind="for_you", window=5)
        sid = session["session_id"]
        received += items
        for n, item in enumerate(items[:3]):
            await send(ws, "feed.event", {"session_id": sid, "post_id": item["id"], "event": "view", "watch_ms": 2000}, f"e{n}")
        # the client keeps the first top-up and loses the rest in flight (read here only to know the server is done)
        kept, acks = None, 0
        while acks < 3:
            msg = await recv(ws)
            if msg["type"] == "feed.items" and kept is None:
                kept = msg["data"]["items"]
            acks += msg["type"] == "feed.ack"
        received += kept
        cursor = received[-1]["index"] + 1
    state = await sessions.load(world.stores, sid)
    assert state.pos == 3 and len(state.served) == 8 and cursor == 6

    async with connect(b, viewer) as ws:
        resumed, items, _ = await open_feed(ws, session_id=sid, cursor=cursor)
        assert resumed["session_id"] == sid and resumed["cursor"] == cursor and resumed["position"] == 3
        assert [i["index"] for i in items] == list(range(cursor, 8))
        assert all(i["source"] == "resent" for i in items)
        received += items
        for item in received[3:]:
            await event(ws, sid, item["id"], "complete", watch_ms=6000)
        received += await next_items(ws, len(received) - 3)
    assert [i["index"] for i in received] == list(range(len(received)))
    ids = [i["id"] for i in received]
    assert len(ids) == len(set(ids))
    assert (await sessions.load(world.stores, sid)).served == ids


async def test_not_interested_mutes_the_author_and_hides_the_post(world):
    authors = await make_authors(world.stores, 6)
    await seed_posts(world.stores, [{"author_id": authors[i % 6], "caption": f"varied clip number {i}"} for i in range(36)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, _ = await open_feed(ws, kind="for_you", window=3)
        sid = session["session_id"]
        muted = items[0]["author"]["id"]
        await event(ws, sid, items[0]["id"], "not_interested")
        seen = list(items)
        seen += await next_items(ws, 1)
        for item in seen[1:]:
            await event(ws, sid, item["id"], "skip")
            seen += await next_items(ws, 1)
            if len(seen) >= 20:
                break
        later = seen[3:]
        assert later and all(i["author"]["id"] != muted for i in later)
        state = await sessions.load(world.stores, sid)
        assert muted in state.muted
    from feed.serving import seen as seen_mod

    assert items[0]["id"] in await seen_mod.already(world.stores, viewer["user"]["id"], [items[0]["id"]])


async def test_following_kind_streams_newest_first_then_ends(world):
    authors = await make_authors(world.stores, 2)
    followed, other = authors
    mine = await seed_posts(world.stores, [{"author_id": followed, "caption": f"followed clip {i}"} for i in range(5)])
    await seed_posts(world.stores, [{"author_id": other, "caption": "not followed"}])
    viewer = await make_user(world.stores)
    from accounts import graph_writes

    await graph_writes.follow(world.stores, viewer["user"]["id"], followed)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, _ = await open_feed(ws, kind="following", window=3)
        sid = session["session_id"]
        assert session["kind"] == "following"
        for item in list(items):
            await event(ws, sid, item["id"], "view", watch_ms=1000)
        got = list(items)
        while True:
            msg = await until(ws, "feed.items")
            got += msg["data"]["items"]
            if msg["data"]["exhausted"]:
                break
            for item in msg["data"]["items"]:
                await event(ws, sid, item["id"], "view", watch_ms=1000)
        assert [i["id"] for i in got] == [p.id for p in reversed(mine)]
    async with connect(api, viewer) as ws:  # taken up again: still the following kind, from the cursor on
        resumed, again, _ = await open_feed(ws, session_id=sid, cursor=len(got) - 2)
        assert resumed["kind"] == "following" and resumed["cursor"] == len(got) - 2
        assert [i["id"] for i in again] == [i["id"] for i in got[-2:]]


async def test_a_following_timeline_shorter_than_the_window_is_served_once_then_exhausted(world):
    """The whole timeline fits the first window: each post comes once (the first
    page was read again and served twice), the stream says exhausted once they are
    watched, and a post published later comes by itself."""
    [followed] = await make_authors(world.stores, 1)
    mine = await seed_posts(world.stores, [{"author_id": followed, "caption": f"a short timeline, clip {i}"} for i in range(3)])
    viewer = await make_user(world.stores)
    from accounts import graph_writes

    await graph_writes.follow(world.stores, viewer["user"]["id"], followed)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, last = await open_feed(ws, kind="following", window=20)
        assert [i["id"] for i in items] == [p.id for p in reversed(mine)], [i["id"] for i in items]
        assert last["cursor"] == 3, last
        got = await drive_to_exhaustion(ws, session["session_id"], items) if not last["exhausted"] else items
        assert [i["id"] for i in got] == [p.id for p in reversed(mine)], [i["id"] for i in got]
        [fresh] = await seed_posts(world.stores, [{"author_id": followed, "caption": "published after the end"}])
        msg = await asyncio.wait_for(until(ws, "feed.items"), WAIT)
        assert [i["id"] for i in msg["data"]["items"]] == [fresh.id] and msg["data"]["items"][0]["index"] == 3, msg


async def drive_to_exhaustion(ws, sid: str, items: list[dict]) -> list[dict]:
    """Watch every item as it comes until the stream says exhausted; returns all served."""
    got = list(items)
    for item in items:
        await event(ws, sid, item["id"], "view", watch_ms=1000)
    while True:
        msg = await until(ws, "feed.items")
        got += msg["data"]["items"]
        for item in msg["data"]["items"]:
            await event(ws, sid, item["id"], "view", watch_ms=1000)
        if msg["data"]["exhausted"]:
            return got


async def test_exhausted_means_nothing_unseen_is_left_and_a_new_post_reopens_the_stream(world):
    """One prolific author and two others: once the others ran out, the author cap
    held the rest back and the stream said exhausted with posts unseen. Exhausted
    means nothing visible and unseen is left; a post published later comes by itself."""
    authors = await make_authors(world.stores, 4)
    prolific, a, b, late = authors
    specs = [{"author_id": prolific, "caption": f"the same creator, clip {i}"} for i in range(12)]
    specs += [{"author_id": x, "caption": f"another creator's clip {j}"} for x in (a, b) for j in range(2)]
    made = await seed_posts(world.stores, specs)
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, last = await open_feed(ws, kind="for_you", window=3)
        sid = session["session_id"]
        got = await drive_to_exhaustion(ws, sid, items) if not last["exhausted"] else items
        assert sorted(i["id"] for i in got) == sorted(p.id for p in made), f"{len(got)} of {len(made)} served"
        # nothing is left: a post published now reaches the open session without any event
        [fresh] = await seed_posts(world.stores, [{"author_id": late, "caption": "published after the end"}])
        msg = await asyncio.wait_for(until(ws, "feed.items"), WAIT)
        assert [i["id"] for i in msg["data"]["items"]] == [fresh.id] and msg["data"]["exhausted"] is False, msg
        assert msg["data"]["items"][0]["index"] == len(got)


async def test_protocol_errors_leave_the_connection_usable(world):
    authors = await make_authors(world.stores, 3)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"x {i}"} for i, a in enumerate(authors)])
    viewer, other = await make_user(world.stores), await make_user(world.stores)
    api = world.start_api()
    async with connect(api, other) as ws:
        theirs, _, _ = await open_feed(ws, kind="for_you", window=1)
    async with connect(api, viewer) as ws:
        session, items, _ = await open_feed(ws, kind="for_you", window=2)
        sid = session["session_id"]
        cases = [
            ("feed.event", {"session_id": "fs_nope", "post_id": items[0]["id"], "event": "like"}, "feed_session_not_found"),
            ("feed.event", {"session_id": sid, "post_id": "post_01jzzzzzzzzzzzzzzzzzzzzzzz", "event": "like"}, "not_in_session"),
            ("feed.event", {"session_id": sid, "post_id": items[0]["id"], "event": "dance"}, "invalid_message"),
            ("feed.event", {"session_id": sid, "post_id": items[0]["id"], "event": "view", "watch_ms": -5}, "invalid_message"),
            ("feed.event", {"session_id": sid, "post_id": items[0]["id"]}, "invalid_message"),
            ("feed.open", {"kind": "sideways"}, "invalid_message"),
            ("feed.open", {"window": 0}, "invalid_message"),
            ("feed.open", {"window": 500}, "invalid_message"),
            ("feed.open", {"cursor": 3}, "invalid_message"),  # a cursor without the session it belongs to
            ("feed.open", {"session_id": theirs["session_id"]}, "feed_session_not_found"),
            ("feed.open", {"session_id": "fs_nope"}, "feed_session_not_found"),
            ("feed.open", {"session_id": sid, "cursor": 99}, "invalid_cursor"),
            ("feed.close", {"session_id": "fs_nope"}, "feed_session_not_found"),
        ]
        for i, (type_, data, code) in enumerate(cases):
            await send(ws, type_, data, f"c{i}")
            msg = await until(ws, "error")
            assert msg["data"]["code"] == code and msg["id"] == f"c{i}", (type_, data, msg)
        for _ in range(3):
            await open_feed(ws, kind="for_you", window=1)
        await send(ws, "feed.open", {"kind": "for_you"}, "c-max")
        msg = await until(ws, "error")
        assert msg["data"]["code"] == "too_many_sessions"
        await send(ws, "feed.close", {"session_id": sid}, "close")
        closed = await until(ws, "feed.closed")
        assert closed["data"]["session_id"] == sid and closed["id"] == "close"
        await send(ws, "ping", {}, "still")
        assert (await until(ws, "pong"))["id"] == "still"


async def test_closing_gives_back_what_the_client_never_reached(world):
    """A client that leaves its feed (feed.close) had items served ahead of it
    that it never showed: they go back to unseen, so the next session may
    serve them; the item it was on stays seen, and the cursor it is told is
    where it was. Without this a small catalogue emptied itself: each visit
    to a feed burned the window ahead."""
    from feed.serving import seen

    authors = await make_authors(world.stores, 8)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i}"} for i, a in enumerate(authors)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, _ = await open_feed(ws, kind="for_you", window=4)
        sid, ids = session["session_id"], [item["id"] for item in items]
        assert len(ids) == 4
        await send(ws, "feed.event", {"session_id": sid, "post_id": ids[0], "event": "impression"}, "i0")
        assert (await until(ws, "feed.ack"))["id"] == "i0"
        assert await seen.already(world.stores, viewer["user"]["id"], ids) == set(ids)  # served: seen while open
        await send(ws, "feed.close", {"session_id": sid}, "close")
        closed = await until(ws, "feed.closed")
        assert closed["data"] == {"session_id": sid, "cursor": 1}, closed
        assert await seen.already(world.stores, viewer["user"]["id"], ids) == {ids[0]}
        # a new session serves them again, not the one the client was on
        _, again, _ = await open_feed(ws, kind="for_you", window=8)
        again_ids = [item["id"] for item in again]
        assert ids[0] not in again_ids and set(ids[1:]) <= set(again_ids), (ids, again_ids)


async def test_an_impression_after_a_takeover_is_session_moved(world):
    """An impression of the item the client is on moves nothing in the session,
    yet after another connection resumed it the answer is session_moved, not an ack."""
    authors = await make_authors(world.stores, 10)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i}"} for i, a in enumerate(authors)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as first, connect(api, viewer) as second:
        session, items, _ = await open_feed(first, kind="for_you", window=2)
        sid = session["session_id"]
        await send(first, "feed.event", {"session_id": sid, "post_id": items[0]["id"], "event": "impression"}, "i0")
        assert (await until(first, "feed.ack"))["id"] == "i0"
        await open_feed(second, session_id=sid)
        await send(first, "feed.event", {"session_id": sid, "post_id": items[0]["id"], "event": "impression"}, "i1")
        msg = await recv(first)
        while msg["type"] == "feed.counts" or (msg["type"] == "error" and msg.get("id") is None):  # the take-over's own notice
            msg = await recv(first)
        assert msg["type"] == "error" and msg["data"]["code"] == "session_moved" and msg["id"] == "i1", msg


async def test_a_session_taken_over_elsewhere_stops_here(world):
    authors = await make_authors(world.stores, 10)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i}"} for i, a in enumerate(authors)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as first, connect(api, viewer) as second:
        session, items, _ = await open_feed(first, kind="for_you", window=2)
        sid = session["session_id"]
        await open_feed(second, session_id=sid, cursor=2)
        await event(first, sid, items[0]["id"], "view")
        msg = await until(first, "error")
        assert msg["data"]["code"] == "session_moved"
        await event(second, sid, items[0]["id"], "view")
        assert len(await next_items(second, 1)) == 1



async def test_a_session_taken_over_on_another_replica_is_let_go_at_once(world):
    """The connection that drove a session hears of its take-over without sending
    anything (an error ``session_moved`` naming it): its slot is free for a fifth
    session and its live counts stop. It went on counting the session as open until
    its next event for it, and a fourth session's owner could open no other."""
    authors = await make_authors(world.stores, 12)
    await seed_posts(world.stores, [{"author_id": a, "caption": f"clip {i}"} for i, a in enumerate(authors)])
    viewer, fan = await make_user(world.stores), await make_user(world.stores)
    a, b = world.start_api(), world.start_api()
    async with connect(a, viewer) as first, connect(b, viewer) as second:
        opened = [await open_feed(first, kind="for_you", window=2) for _ in range(4)]
        sid, items = opened[0][0]["session_id"], opened[0][1]
        await open_feed(second, session_id=sid)
        notice = await recv_skipping(first, "feed.counts")
        assert notice == {"type": "error", "data": {"code": "session_moved", "message": notice["data"]["message"], "session_id": sid}}, notice
        fifth, _, _ = await open_feed(first, kind="for_you", window=2)  # the slot is free
        assert fifth["session_id"] != sid
        # a like on the moved session's item: counted, and pushed to the new driver only
        async with httpx.AsyncClient(base_url=a.url, timeout=60) as http:
            assert (await http.post(f"/v1/posts/{items[0]['id']}/like", headers=fan["headers"])).status_code == 200
        pushed = await until(second, "feed.counts")
        assert pushed["data"]["session_id"] == sid
        await asyncio.sleep(2.5)  # past two counts intervals: anything first would get has come
        await send(first, "ping", {}, "p")
        while (msg := await recv(first))["type"] != "pong":
            assert msg["type"] == "feed.counts" and msg["data"]["session_id"] != sid, msg
        await event(first, sid, items[0]["id"], "view")  # and its next event for it is still told why
        assert (await recv_skipping(first, "feed.counts"))["data"]["code"] == "session_moved"


async def test_what_a_client_sent_before_it_left_is_not_lost(world):
    """Events read before the client went away keep their effects: the likes
    land, and so does what the last event changed in the session (saved by the
    effects when an event serves no item)."""
    authors = await make_authors(world.stores, 10)
    await seed_posts(world.stores, [{"author_id": a, "caption": CATS[i]} for i, a in enumerate(authors)])
    viewer = await make_user(world.stores)
    api = world.start_api()
    async with connect(api, viewer) as ws:
        session, items, _ = await open_feed(ws, kind="for_you", window=3)
        sid = session["session_id"]
        for item in items:
            await event(ws, sid, item["id"], "like")
        await event(ws, sid, items[-1]["id"], "not_interested")  # serves nothing: the window is full
        await send(ws, "ping", {}, "last")  # read after every event: the server has them all
        while (await recv(ws)).get("id") != "last":
            pass
    for _ in range(100):
        liked = [await likes.count_likes(world.stores, i["id"]) for i in items]
        state = await sessions.load(world.stores, sid)
        if liked == [1, 1, 1] and state.muted:
            break
        await asyncio.sleep(0.1)
    assert liked == [1, 1, 1]
    assert state.pos == 3 and len(state.served) == 6
    assert state.muted == [items[-1]["author"]["id"]]  # the last event's change to the session was saved


def test_an_events_item_is_found_anywhere_in_the_session():
    """``FeedStream.position``: the items about the client's place are looked at
    first, then every item the session served; an id it never served is None."""
    from feed.serving.stream import NEAR_END, FeedStream

    served = [f"post_{i:04d}" for i in range(3 * NEAR_END)]
    state = sessions.SessionState(id=sessions.new_session_id(), user_id="u", kind="for_you", window=5, owner="o", served=served)
    stream = FeedStream(None, state, None)
    for i in (len(served) - 1, len(served) - NEAR_END, len(served) - NEAR_END - 1, NEAR_END, 0):
        assert stream.position(served[i]) == i
    assert stream.position("post_9999") is None and stream.position("") is None
    served.append("post_new")  # what the session serves next is found too
    assert stream.position("post_new") == len(served) - 1
