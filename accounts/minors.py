"""Ages: the birth date an account declares, and whether it is a minor.

An account declares its birth date at sign-up (``YYYY-MM-DD``); it is kept
on the user document as that text (``birth_date``) and never shown to
anyone but its owner. Whether an account is a minor (under
``ADULT_AGE``) is computed from the date whenever it is asked, never
stored, since minors turn 18. Under ``MIN_AGE`` no account is made.

Accounts made before birth dates were asked for have none: they count as
adults until they declare one, which they can do once
(``PATCH /v1/me``); a declared date is never changed by its owner, so a
minor cannot make themselves an adult.

What being a minor changes (the server applies it): prompts are moderated
with the strict thresholds and jobs carry ``strict_moderation``; cameos
cannot be used by ``everyone``; adult strangers do not find the account in
user search (``visible_in_search``). See docs/SAFETY.md, "Minors"."""

from __future__ import annotations

from datetime import date, datetime, timezone

from core.errors import Forbidden, PolicyViolation
from core.stores import Stores

MIN_AGE = 13  # no account below this age
ADULT_AGE = 18  # below this age an account is a minor
OLDEST_YEAR = 1900  # a birth year before this is not believed


def today() -> date:
    return datetime.now(timezone.utc).date()


def age_on(birth: date, day: date) -> int:
    """Whole years from ``birth`` to ``day`` (a 29 February birthday comes on 1 March in other years)."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def is_minor(birth_date: str | date | None, day: date | None = None) -> bool:
    """Whether someone born on ``birth_date`` is under 18 on ``day`` (today by
    default). No birth date: not a minor (accounts from before the date was asked)."""
    if birth_date is None or birth_date == "":
        return False
    birth = birth_date if isinstance(birth_date, date) else date.fromisoformat(birth_date)
    return age_on(birth, day or today()) < ADULT_AGE


def invalid_birth_date(message: str) -> PolicyViolation:
    return PolicyViolation(
        message, code="invalid_birth_date", details=[{"field": "birth_date", "message": message, "source": "body"}]
    )


def too_young() -> Forbidden:
    return Forbidden(
        f"you must be at least {MIN_AGE} years old to have an account", code="too_young", details={"min_age": MIN_AGE}
    )


def check_birth_date(birth: date, day: date | None = None) -> str:
    """The stored form of a declared birth date, or the refusal: 422
    ``invalid_birth_date`` for a date in the future or before 1900, 403
    ``too_young`` under 13."""
    day = day or today()
    if birth > day:
        raise invalid_birth_date("birth_date is in the future")
    if birth.year < OLDEST_YEAR:
        raise invalid_birth_date(f"birth_date must be in {OLDEST_YEAR} or later")
    if age_on(birth, day) < MIN_AGE:
        raise too_young()
    return birth.isoformat()


async def birth_date_of(stores: Stores, user_id: str) -> str | None:
    doc = await stores.db.users.find_one({"_id": user_id}, {"birth_date": 1})
    return (doc or {}).get("birth_date") or None


async def is_minor_user(stores: Stores, user_id: str) -> bool:
    """Whether the account ``user_id`` is a minor today (one read of its document)."""
    return is_minor(await birth_date_of(stores, user_id))


async def minors_among(stores: Stores, user_ids: list[str]) -> set[str]:
    """The ids in ``user_ids`` whose accounts are minors today."""
    if not user_ids:
        return set()
    found = stores.db.users.find({"_id": {"$in": list(set(user_ids))}}, {"birth_date": 1})
    return {doc["_id"] async for doc in found if is_minor(doc.get("birth_date"))}


def visible_in_search(*, viewer_minor: bool, target_minor: bool, following: bool, followed_by: bool) -> bool:
    """Whether user search shows the target to the viewer: an adult target
    always; a minor to another minor, and to an adult only when one of them
    follows the other (an adult stranger does not find a minor)."""
    return not target_minor or viewer_minor or following or followed_by
