"""policy.likeness and policy.mentions: pure decisions, every permission level
against every relationship, restrictions, and the mention grammar."""

from __future__ import annotations

import random
import string

import pytest

from accounts.users import valid_handle
from policy import cameo_restrictions
from policy.likeness import (
    PERMISSIONS,
    CameoFacts,
    RelationshipFacts,
    breached_restriction,
    check_restrictions,
    may_use_cameo,
    may_use_in_prompt,
)
from policy.mentions import MAX_MENTIONS, character_mention, parse_mentions, strip_mentions, valid_character_mention

OWNER, USER = "user_owner", "user_other"


def cameo(permission: str, **facts) -> CameoFacts:
    return CameoFacts(cameo_id="cameo_1", owner_id=OWNER, mention="@ada", permission=permission, **facts)


# Relationships of USER to the owner, as the resolver would report them.
RELATIONS = {
    "self": RelationshipFacts(),  # USER is replaced by OWNER below
    "stranger": RelationshipFacts(),
    "follower": RelationshipFacts(user_follows_owner=True),
    "followed": RelationshipFacts(owner_follows_user=True),
    "mutual": RelationshipFacts(user_follows_owner=True, owner_follows_user=True),
    "approved": RelationshipFacts(approved=True),
    # a grant that was revoked stands no more: the resolver reports approved=False
    "revoked": RelationshipFacts(approved=False, user_follows_owner=True),
    "blocked": RelationshipFacts(user_follows_owner=True, owner_follows_user=True, approved=True, blocked=True),
}

# (permission, relation) -> the basis it is allowed on, or the refusal category
EXPECTED = {
    "only_me": {
        "self": "self", "stranger": "!only_me", "follower": "!only_me", "followed": "!only_me",
        "mutual": "!only_me", "approved": "!only_me", "revoked": "!only_me", "blocked": "!blocked",
    },
    "approved": {
        "self": "self", "stranger": "!not_approved", "follower": "!not_approved", "followed": "!not_approved",
        "mutual": "!not_approved", "approved": "approved", "revoked": "!not_approved", "blocked": "!blocked",
    },
    "mutuals": {
        "self": "self", "stranger": "!not_mutuals", "follower": "!not_mutuals", "followed": "!not_mutuals",
        "mutual": "mutuals", "approved": "approved", "revoked": "!not_mutuals", "blocked": "!blocked",
    },
    "everyone": {
        "self": "self", "stranger": "everyone", "follower": "everyone", "followed": "everyone",
        "mutual": "everyone", "approved": "everyone", "revoked": "everyone", "blocked": "!blocked",
    },
}


def test_the_matrix_covers_every_level_and_relation():
    assert set(EXPECTED) == set(PERMISSIONS)
    assert all(set(row) == set(RELATIONS) for row in EXPECTED.values())


@pytest.mark.parametrize("permission", PERMISSIONS)
@pytest.mark.parametrize("relation", list(RELATIONS))
def test_permission_level_by_relationship(permission, relation):
    user = OWNER if relation == "self" else USER
    decision = may_use_cameo(user, cameo(permission), RELATIONS[relation])
    expected = EXPECTED[permission][relation]
    assert decision.cameo_id == "cameo_1"
    if expected.startswith("!"):
        assert not decision.allowed, decision
        assert decision.category == expected[1:]
        assert "@ada" in decision.reason  # the refusal names the cameo
        assert decision.basis is None
    else:
        assert decision.allowed, decision
        assert decision.basis == expected


@pytest.mark.parametrize("permission", PERMISSIONS)
@pytest.mark.parametrize("relation", list(RELATIONS))
def test_paused_and_deleted_refuse_everyone_the_owner_included(permission, relation):
    user = OWNER if relation == "self" else USER
    paused = may_use_cameo(user, cameo(permission, paused=True), RELATIONS[relation])
    assert not paused.allowed and paused.category == "paused" and "@ada" in paused.reason
    deleted = may_use_cameo(user, cameo(permission, deleted=True, paused=True), RELATIONS[relation])
    assert not deleted.allowed and deleted.category == "deleted"


def test_unknown_permission_refuses():
    decision = may_use_cameo(USER, cameo("friends"), RELATIONS["mutual"])
    assert not decision.allowed and decision.category == "unknown_permission"


# --- restrictions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "restriction, prompt",
    [
        ("political", "@ada gives a speech at an election rally"),
        ("political", "@ada as PRESIDENT of the world"),
        ("swearing", "@ada shouts f*ck... no: @ada yells 'sh1t' at a printer"),
        ("swearing", "@ada swearing at traffic"),
        ("violence", "@ada in a sword fight on a bridge"),
        ("alcohol_drugs", "@ada drinks a beer on the beach"),
        ("romance", "@ada and @bob kissing in the rain"),
        ("commercial", "@ada in a commercial for sneakers"),
        ("horror", "@ada chased by zombies"),
    ],
)
def test_a_restriction_refuses_a_matching_prompt_and_names_the_cameo(restriction, prompt):
    facts = cameo("everyone", restrictions=(restriction,))
    decision = may_use_in_prompt(USER, facts, RELATIONS["stranger"], prompt)
    assert not decision.allowed
    assert decision.category == "restricted" and decision.restriction == restriction
    assert "@ada" in decision.reason
    assert cameo_restrictions.BY_ID[restriction].topic in decision.reason


@pytest.mark.parametrize(
    "restriction, prompt",
    [
        ("political", "@ada waters the garden at sunrise"),
        ("political", "@ada at a birthday party"),  # "party" alone is not political
        ("swearing", "@ada reads a bedtime story"),
        ("violence", "@ada paints a warm landscape"),  # no "war" inside "warm"
        ("alcohol_drugs", "@ada drinks orange juice"),
        ("commercial", "@ada reads about adverbs"),  # "ad" only as a whole word
        ("horror", "@ada dances at a wedding"),
    ],
)
def test_a_restriction_lets_other_prompts_through(restriction, prompt):
    decision = may_use_in_prompt(USER, cameo("everyone", restrictions=(restriction,)), RELATIONS["stranger"], prompt)
    assert decision.allowed and decision.basis == "everyone", decision


def test_the_owner_is_not_bound_by_their_own_restrictions():
    facts = cameo("only_me", restrictions=("political",))
    assert check_restrictions(OWNER, facts, "@ada votes in an election").allowed
    assert may_use_in_prompt(OWNER, facts, RELATIONS["self"], "@ada votes in an election").basis == "self"


def test_permission_is_checked_before_restrictions():
    facts = cameo("approved", restrictions=("political",))
    decision = may_use_in_prompt(USER, facts, RELATIONS["stranger"], "@ada votes")
    assert decision.category == "not_approved"


def test_mentions_do_not_trigger_restrictions():
    # a handle that is a restricted word is a name, not the topic
    facts = cameo("everyone", restrictions=("political",))
    assert breached_restriction("@vote_bot waves hello", facts.restrictions) is None
    assert breached_restriction("@ada on a vote", facts.restrictions) == ("political", "vote")


def test_unknown_restriction_ids_are_ignored():
    assert breached_restriction("an election", ("no_such_rule",)) is None


def test_restriction_ids_are_unique_and_labelled():
    ids = [r.id for r in cameo_restrictions.RESTRICTIONS]
    assert len(ids) == len(set(ids)) and cameo_restrictions.IDS == tuple(ids)
    assert all(r.label and r.topic for r in cameo_restrictions.RESTRICTIONS)


# --- mentions ---------------------------------------------------------------------


def keys(prompt: str) -> list[tuple[str, str | None]]:
    return [m.key for m in parse_mentions(prompt)]


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("@ada surfing", [("ada", None)]),
        ("@Ada and @bob_99 dance", [("ada", None), ("bob_99", None)]),
        ("@ada.sunny waves", [("ada", "sunny")]),
        ("a film with @ada.", [("ada", None)]),  # the full stop ends the sentence
        ("with @ada.Sunny.", [("ada", "sunny")]),
        ("(@ada), [@bob]; '@cat'", [("ada", None), ("bob", None), ("cat", None)]),
        ("@ada @ADA @ada.x @Ada.X", [("ada", None), ("ada", "x")]),  # repeats count once
        ("line one\n@ada on line two", [("ada", None)]),
        ("@ada's dog", [("ada", None)]),
        ("mail ada@example.com about it", []),  # an e-mail address
        ("first.last@example.com", []),
        ("see example.com/@ada", []),  # a URL path
        ("@@ada", []),
        ("@ab is too short", []),
        ("@" + "a" * 31 + " is too long", []),
        ("@" + "a" * 30 + " is just right", [("a" * 30, None)]),
        ("@ada.b.c is no mention", []),
        ("@ada-style hair", [("ada", None)]),  # a hyphen is punctuation after a name
        ("ça@ada", []),  # a non-ASCII letter before the @ is still a word
        ("@ada_", [("ada_", None)]),
        ("no mentions here", []),
    ],
)
def test_parse_mentions(prompt, expected):
    assert keys(prompt) == expected


def test_mention_positions_and_text():
    prompt = "x @Ada.Sunny y"
    [m] = parse_mentions(prompt)
    assert prompt[m.start : m.end] == "@Ada.Sunny"
    assert m.handle == "Ada" and m.character == "Sunny" and m.text == "@ada.sunny"


def test_strip_mentions():
    assert strip_mentions("@ada votes with @bob.x").split() == ["votes", "with"]


def test_mention_handles_follow_the_account_handle_rules():
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "_-.é"
    for _ in range(2000):
        handle = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 33)))
        found = keys(f"hi @{handle} !")
        if valid_handle(handle):
            assert found == [(handle.lower(), None)], handle
        elif found:
            # what was found is a valid handle (and maybe a character name) that
            # ends where punctuation starts: never a piece of a longer name
            h, c = found[0]
            name = f"{h}.{c}" if c else h
            assert valid_handle(h) and handle.lower().startswith(name), handle
            rest = handle[len(name) :]
            assert rest[:1] in ("", "-", "é") or (rest[:1] == "." and rest[1:2] in ("", "-", ".", "é")), handle


def test_max_mentions_is_a_small_number():
    assert 1 <= MAX_MENTIONS <= 16


@pytest.mark.parametrize(
    "name, mention",
    [("Sunny", "sunny"), ("Mr. Whiskers!", "mr_whiskers"), ("Zoë the cat", "zoe_the_cat"), ("  __ ", ""), ("x" * 40, "x" * 30)],
)
def test_character_mention(name, mention):
    assert character_mention(name) == mention
    assert valid_character_mention(mention) == bool(mention)
