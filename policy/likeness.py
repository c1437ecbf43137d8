"""Likeness consent: may user U use cameo C, and for this prompt.

Pure decisions over facts the caller fetched (``cameos.resolve`` does the
I/O). The rules, in the order they are applied:

1. A deleted cameo is used by nobody; a paused one by nobody either, its
   owner included, until the owner unpauses it ("no new uses").
2. The owner may always use their own cameo (their restrictions bind others,
   not them).
3. A block between the user and the owner, either way, refuses.
4. The permission level:

   - ``only_me``: the owner alone; approvals do not count;
   - ``approved``: people with an approved grant (a request the owner
     approved and has not revoked);
   - ``mutuals``: people the owner follows and who follow the owner, and
     people with an approved grant;
   - ``everyone``: anybody not blocked.

5. For anyone but the owner, the prompt must not breach one of the owner's
   restrictions (``policy.cameo_restrictions``).

Every refusal names the cameo, so the person who asked knows which one.
An allowed decision carries its ``basis`` (self, everyone, mutuals,
approved): what let this use through, recorded with the appearance.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from policy.cameo_restrictions import BY_ID
from policy.decision import Decision
from policy.mentions import strip_mentions
from policy.prompt import normalise

Permission = Literal["only_me", "approved", "mutuals", "everyone"]
PERMISSIONS: tuple[str, ...] = ("only_me", "approved", "mutuals", "everyone")
Basis = Literal["self", "everyone", "mutuals", "approved"]


class CameoFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the decision needs to know about a cameo."""

    cameo_id: str
    owner_id: str
    mention: str  # how prompts name it, e.g. "@ada" or "@ada.sunny": used in refusals
    permission: str
    paused: bool = False
    deleted: bool = False
    restrictions: tuple[str, ...] = ()


class RelationshipFacts(msgspec.Struct, frozen=True, kw_only=True):
    """How the user stands towards the cameo and its owner."""

    user_follows_owner: bool = False
    owner_follows_user: bool = False
    approved: bool = False  # an approved grant stands (requested, approved, not revoked)
    blocked: bool = False  # either of the two blocks the other


class CameoDecision(Decision, frozen=True, kw_only=True):
    cameo_id: str | None = None
    basis: str | None = None  # on an allowed decision: self | everyone | mutuals | approved
    restriction: str | None = None  # on a refusal by a restriction: its id


def _refuse(cameo: CameoFacts, category: str, reason: str, restriction: str | None = None) -> CameoDecision:
    return CameoDecision(allowed=False, category=category, reason=reason, cameo_id=cameo.cameo_id, restriction=restriction)


def _allow(cameo: CameoFacts, basis: Basis) -> CameoDecision:
    return CameoDecision(allowed=True, cameo_id=cameo.cameo_id, basis=basis)


def may_use_cameo(user_id: str, cameo: CameoFacts, rel: RelationshipFacts) -> CameoDecision:
    """May ``user_id`` use ``cameo`` at all (rules 1-4)."""
    name = cameo.mention
    if cameo.deleted:
        return _refuse(cameo, "deleted", f"The cameo {name} no longer exists.")
    if cameo.paused:
        return _refuse(cameo, "paused", f"The cameo {name} is paused by its owner.")
    if user_id == cameo.owner_id:
        return _allow(cameo, "self")
    if rel.blocked:
        return _refuse(cameo, "blocked", f"You cannot use the cameo {name}.")
    level = cameo.permission
    if level == "everyone":
        return _allow(cameo, "everyone")
    if level == "mutuals":
        if rel.user_follows_owner and rel.owner_follows_user:
            return _allow(cameo, "mutuals")
        if rel.approved:
            return _allow(cameo, "approved")
        return _refuse(cameo, "not_mutuals", f"The cameo {name} is for its owner's mutual followers.")
    if level == "approved":
        if rel.approved:
            return _allow(cameo, "approved")
        return _refuse(cameo, "not_approved", f"The cameo {name} needs its owner's approval; request it first.")
    if level == "only_me":
        return _refuse(cameo, "only_me", f"The cameo {name} can only be used by its owner.")
    return _refuse(cameo, "unknown_permission", f"The cameo {name} has an unknown permission {level!r}.")


def breached_restriction(prompt: str, restrictions: tuple[str, ...] | list[str]) -> tuple[str, str] | None:
    """The first of ``restrictions`` that ``prompt`` breaches, as (id, the words
    that breached it), or None. Unknown ids are ignored (never set by the API)."""
    text = normalise(strip_mentions(prompt))
    for rid in restrictions:
        rule = BY_ID.get(rid)
        if rule is None:
            continue
        match = rule.pattern.search(text)
        if match:
            return rid, match.group(0)
    return None


def check_restrictions(user_id: str, cameo: CameoFacts, prompt: str) -> CameoDecision:
    """Rule 5: the owner's restrictions against the prompt (the owner is not bound)."""
    if user_id == cameo.owner_id:
        return _allow(cameo, "self")
    found = breached_restriction(prompt, cameo.restrictions)
    if found is None:
        return CameoDecision(allowed=True, cameo_id=cameo.cameo_id)
    rid, words = found
    rule = BY_ID[rid]
    return _refuse(
        cameo,
        "restricted",
        f"The owner of the cameo {cameo.mention} does not allow it in {rule.topic} (the prompt says {words!r}).",
        restriction=rid,
    )


def may_use_in_prompt(user_id: str, cameo: CameoFacts, rel: RelationshipFacts, prompt: str) -> CameoDecision:
    """Rules 1-5: may ``user_id`` use ``cameo`` in a video made from ``prompt``."""
    decision = may_use_cameo(user_id, cameo, rel)
    if not decision.allowed:
        return decision
    breach = check_restrictions(user_id, cameo, prompt)
    return decision if breach.allowed else breach
