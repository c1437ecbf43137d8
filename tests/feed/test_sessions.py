"""Feed sessions made with ``feed.serving.sessions.new`` are written with their first
items (one round trip), or by a ``save`` when nothing was served; until then
no one can load them. On the session's real Valkey."""

from __future__ import annotations

import uuid

import pytest

from feed.serving import seen, sessions


async def test_a_new_session_is_written_with_its_first_items(stores):
    user = f"user_{uuid.uuid4().hex}"
    state = sessions.new(stores, user_id=user, kind="for_you", window=3, interest=b"\x00\x00\x80?")
    assert not state.stored and await sessions.load(stores, state.id) is None
    ids = [f"post_{uuid.uuid4().hex}" for _ in range(3)]
    assert await sessions.append(stores, state, ids) == 3
    loaded = await sessions.load(stores, state.id)
    assert state.stored and loaded is not None
    assert loaded.served == ids and loaded.user_id == user and loaded.window == 3 and loaded.interest == b"\x00\x00\x80?"
    assert loaded.owner == state.owner and loaded.pos == 0
    assert await seen.already(stores, user, ids) == set(ids)
    more = [f"post_{uuid.uuid4().hex}"]
    assert await sessions.append(stores, state, more) == 4  # a stored session appends as before


async def test_a_new_session_that_served_nothing_is_written_by_save(stores):
    state = sessions.new(stores, user_id=f"user_{uuid.uuid4().hex}", kind="for_you", window=5)
    state.pos = 0
    assert await sessions.append(stores, state, []) == 0  # nothing to serve: written all the same
    loaded = await sessions.load(stores, state.id)
    assert loaded is not None and loaded.served == [] and state.stored


async def test_replacing_the_tail_takes_posts_back_to_unseen_and_is_guarded(stores):
    user = f"user_{uuid.uuid4().hex}"
    state = sessions.new(stores, user_id=user, kind="for_you", window=5)
    ids = [f"post_{uuid.uuid4().hex}" for _ in range(5)]
    await sessions.append(stores, state, ids)
    other = [f"post_{uuid.uuid4().hex}"]
    await sessions.replace_tail(stores, state, 2, [ids[3], *other])
    assert state.served == ids[:2] + [ids[3], *other]
    assert (await sessions.load(stores, state.id)).served == state.served
    # what left the list is unseen again; what stayed, and the new entry, are not touched
    assert await seen.already(stores, user, ids + other) == {ids[0], ids[1], ids[3]}
    # a reader holding an older length, or another owner, changes nothing
    stale = await sessions.load(stores, state.id)
    await sessions.append(stores, state, [f"post_{uuid.uuid4().hex}"])
    with pytest.raises(sessions.SessionMoved):
        await sessions.replace_tail(stores, stale, 0, [])
    stale = await sessions.load(stores, state.id)
    stale.owner = "someone-else"
    with pytest.raises(sessions.SessionMoved):
        await sessions.replace_tail(stores, stale, 0, [])
    assert (await sessions.load(stores, state.id)).served == state.served
    # from the start: the whole list goes
    await sessions.replace_tail(stores, state, 0, [ids[0]])
    assert (await sessions.load(stores, state.id)).served == [ids[0]]
