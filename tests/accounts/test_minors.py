"""Minors against the live api: the birth date at sign-up (required, checked,
never shown to others), the strict moderation of a minor's prompts and
jobs, a minor's cameo never open to everyone, user search that hides a minor
from adult strangers, and an older account declaring its birth date once."""

from __future__ import annotations

import datetime
import io
import json
import uuid
import zipfile

import pytest

from accounts import minors, users
from cameos import store as cameo_store
from core.media_store import open_media_store
from gen import jobs
from policy.prompt import assess_prompt
from tests.server.test_videos_routes import assert_error  # the Videos API adds OpenAI's type and param
from tests.conftest import signup
from tests.feed.test_social import block, ready_video

TODAY = datetime.date.today()


def years_ago(years: int, days: int = 0) -> str:
    """The birth date of someone who turns ``years`` old ``days`` days from today (0: today)."""
    day = TODAY + datetime.timedelta(days=days)
    try:
        born = day.replace(year=day.year - years)
    except ValueError:  # 29 February
        born = day.replace(year=day.year - years, day=28)
    return born.isoformat()


MINOR = years_ago(15)
ADULT = "1990-01-01"

# Prompts the classifier scores between its strict and default thresholds
# (checked below with the same model the api loads, not assumed): allowed for
# an adult, refused for a minor.
BORDERLINE_CANDIDATES = [  # benign prompts of the labelled set that scored so when this test was written
    "a tutorial on how to bake bread step by step",
    "a history lesson about segregation and the civil rights act",
    "a police training video showing how to de-escalate an argument",
    "a slasher movie parody with ketchup as fake blood",
    "how to make a fire starter from dryer lint for camping",
    "a gun safety instructor teaching how to store firearms locked away from kids",
    "a teenager sitting alone in her room listening to music, then her friends knock",  # the weights of 5 December
    "freshman can't open her locker combo, older girl helps her, cute moment",
    # the weights of 6 December, 34 writers
    "stolen phone? here's how to lock it, mark it lost, and file the report, fast guide",
    "a girl sitting on a cliff edge with her legs dangling, enjoying the view",
    "a boy who is a little chubby making the soccer team and scoring, body positive video",
]


def borderline_prompt() -> str:
    """A prompt allowed with the default thresholds and refused with the strict ones, as the
    Videos API moderates a prompt without cameos."""
    for prompt in BORDERLINE_CANDIDATES:
        adult = assess_prompt(prompt, has_cameo=False)
        if adult.decision.allowed and not assess_prompt(prompt, has_cameo=False, strict=True, probabilities=adult.probabilities).decision.allowed:
            return prompt
    pytest.fail("none of the candidate prompts lies between the strict and the default thresholds any more: pick new ones")


def prefix() -> str:
    return "mz" + uuid.uuid4().hex[:8]


# --- the birth date --------------------------------------------------------------------------


def test_age_comes_from_the_date_on_the_day():
    born = datetime.date(2008, 6, 15)
    assert minors.age_on(born, datetime.date(2026, 6, 14)) == 17 and minors.is_minor(born, datetime.date(2026, 6, 14))
    assert minors.age_on(born, datetime.date(2026, 6, 15)) == 18 and not minors.is_minor(born, datetime.date(2026, 6, 15))
    leap = datetime.date(2008, 2, 29)
    assert minors.is_minor(leap, datetime.date(2026, 2, 28)) and not minors.is_minor(leap, datetime.date(2026, 3, 1))
    assert not minors.is_minor(None) and not minors.is_minor("")
    assert minors.visible_in_search(viewer_minor=False, target_minor=False, following=False, followed_by=False)
    assert not minors.visible_in_search(viewer_minor=False, target_minor=True, following=False, followed_by=False)
    assert minors.visible_in_search(viewer_minor=True, target_minor=True, following=False, followed_by=False)
    assert minors.visible_in_search(viewer_minor=False, target_minor=True, following=True, followed_by=False)
    assert minors.visible_in_search(viewer_minor=False, target_minor=True, following=False, followed_by=True)


async def test_signup_keeps_the_birth_date_for_its_owner_only(http, stores):
    me = await signup(http, birth_date=MINOR)
    other = await signup(http)
    assert me["user"]["birth_date"] == MINOR and me["user"]["minor"] is True
    assert other["user"]["minor"] is False
    raw = await stores.db.users.find_one({"_id": me["user"]["id"]})
    assert raw["birth_date"] == MINOR and "minor" not in raw  # the flag is computed when read, never stored
    mine = (await http.get("/v1/me", headers=me["headers"])).json()
    assert (mine["birth_date"], mine["minor"]) == (MINOR, True)
    seen = (await http.get(f"/v1/users/{me['user']['handle']}", headers=other["headers"])).json()
    assert seen["id"] == me["user"]["id"] and "birth_date" not in seen and "minor" not in seen
    listed = (await http.get(f"/v1/users/{other['user']['handle']}/followers", headers=me["headers"])).json()
    assert all("birth_date" not in u for u in listed["data"])
    r = await http.post("/v1/auth/login", json={"handle": me["user"]["handle"], "password": "correct horse battery"})
    assert r.status_code == 200 and r.json()["user"]["birth_date"] == MINOR

    r = await http.get("/v1/me/export", headers=me["headers"])
    assert r.status_code == 200, r.text
    account = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("account.json"))
    assert account["birth_date"] == MINOR and account["id"] == me["user"]["id"]


@pytest.mark.parametrize(
    "birth_date, status, code",
    [
        (None, 400, "invalid_request"),  # required
        ("", 400, "invalid_request"),
        ("2001-02-30", 400, "invalid_request"),
        ("15/06/2001", 400, "invalid_request"),
        ("2001-06-15T00:00:00", 400, "invalid_request"),
        (20010615, 400, "invalid_request"),
        ((TODAY + datetime.timedelta(days=1)).isoformat(), 422, "invalid_birth_date"),
        ("1899-12-31", 422, "invalid_birth_date"),
        ("0001-01-01", 422, "invalid_birth_date"),
        (years_ago(13, days=1), 403, "too_young"),  # 13 tomorrow
        (years_ago(5), 403, "too_young"),
        (TODAY.isoformat(), 403, "too_young"),
    ],
)
async def test_signup_refuses_a_missing_bad_or_too_young_birth_date(http, stores, birth_date, status, code):
    handle = "bd" + uuid.uuid4().hex[:10]
    body: dict = {"handle": handle, "password": "correct horse battery"}
    if birth_date is not None:
        body["birth_date"] = birth_date
    before = await stores.db.users.count_documents({})
    err = assert_error(await http.post("/v1/auth/signup", json=body), status, code)
    if status != 403:
        assert any(p.get("field") == "birth_date" for p in err["details"]), err
    assert await stores.db.users.count_documents({}) == before
    assert await users.get_by_handle(stores, handle) is None


async def test_thirteen_today_is_a_minor_and_eighteen_today_an_adult(http):
    young = await signup(http, birth_date=years_ago(13))
    assert young["user"]["minor"] is True
    grown = await signup(http, birth_date=years_ago(18))
    assert grown["user"]["minor"] is False
    nearly = await signup(http, birth_date=years_ago(18, days=1))  # 18 tomorrow
    assert nearly["user"]["minor"] is True


async def test_an_older_account_declares_its_birth_date_once(http, stores, settings):
    # an account from before birth dates were asked: an adult until it says otherwise
    old = await users.create_user(stores, "old" + uuid.uuid4().hex[:10], "not-a-real-hash")
    from accounts import tokens

    issued = await tokens.issue(stores, old.id)
    h = {"Authorization": f"Bearer {issued.token}"}
    mine = (await http.get("/v1/me", headers=h)).json()
    assert (mine["birth_date"], mine["minor"]) == (None, False)
    media = open_media_store(settings)
    cameo = await cameo_store.create_cameo(
        stores, media, owner_id=old.id, kind="character", name="sunny", mention="sunny", embedding=None, frames=[], voice=None
    )
    await cameo_store.update_cameo(stores, cameo.id, old.id, {"permission": "everyone"})

    assert_error(await http.patch("/v1/me", json={"birth_date": years_ago(10)}, headers=h), 403, "too_young")
    assert_error(await http.patch("/v1/me", json={"birth_date": "3000-01-01", "bio": "x"}, headers=h), 422, "invalid_birth_date")
    assert (await http.get("/v1/me", headers=h)).json()["bio"] == ""  # a refused date changes nothing
    r = await http.patch("/v1/me", json={"birth_date": MINOR, "bio": "hi"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["birth_date"], r.json()["minor"], r.json()["bio"]) == (MINOR, True, "hi")
    assert (await cameo_store.get_cameo(stores, cameo.id)).permission == "mutuals"  # a minor's cameo is never open to everyone
    # once declared, the owner cannot change it (a minor cannot make themselves an adult)
    assert_error(await http.patch("/v1/me", json={"birth_date": ADULT}, headers=h), 409, "birth_date_set")
    assert (await http.get("/v1/me", headers=h)).json()["minor"] is True
    adult = await signup(http)
    assert_error(await http.patch("/v1/me", json={"birth_date": MINOR}, headers=adult["headers"]), 409, "birth_date_set")
    # a date sign-up would refuse is told the same: the date is set, whatever was sent
    for refused in (years_ago(5), "3000-01-01", "1899-01-01"):
        assert_error(await http.patch("/v1/me", json={"birth_date": refused}, headers=adult["headers"]), 409, "birth_date_set")
    assert (await http.get("/v1/me", headers=adult["headers"])).json()["birth_date"] == ADULT


# --- strict moderation ---------------------------------------------------------------------


async def test_a_minors_borderline_prompt_is_refused_where_an_adults_passes(http, stores):
    prompt = borderline_prompt()
    adult, minor = await signup(http), await signup(http, birth_date=MINOR)
    body = {"prompt": prompt, "seconds": "1", "size": "64x64"}
    r = await http.post("/v1/videos", json=body, headers=adult["headers"])
    assert r.status_code == 200, r.text
    assert (await jobs.get_job(stores, r.json()["id"])).strict_moderation is False
    before = await stores.db["videos"].count_documents({"owner_id": minor["user"]["id"]})
    err = assert_error(await http.post("/v1/videos", json=body, headers=minor["headers"]), 422, "moderation_blocked")
    assert err["details"]["category"]
    assert await stores.db["videos"].count_documents({"owner_id": minor["user"]["id"]}) == before

    # a remix of the minor's own video: the same strict thresholds
    source = await ready_video(stores, minor)
    assert_error(await http.post(f"/v1/videos/{source}/remix", json={"prompt": prompt}, headers=minor["headers"]), 422, "moderation_blocked")
    mine = await ready_video(stores, adult)
    r = await http.post(f"/v1/videos/{mine}/remix", json={"prompt": prompt}, headers=adult["headers"])
    assert r.status_code == 200, r.text
    # another user's video is not found, for the minor as for anyone
    assert_error(await http.post(f"/v1/videos/{mine}/remix", json={"prompt": "a kite"}, headers=minor["headers"]), 404, "video_not_found")

    # what a minor may make is made and checked strictly
    r = await http.post("/v1/videos", json={**body, "prompt": "a paper boat on a pond"}, headers=minor["headers"])
    assert r.status_code == 200, r.text
    assert (await jobs.get_job(stores, r.json()["id"])).strict_moderation is True


# --- cameos --------------------------------------------------------------------------------


async def test_a_minors_cameo_is_never_open_to_everyone(http, stores, settings):
    media = open_media_store(settings)
    minor, adult = await signup(http, birth_date=MINOR), await signup(http)

    async def character(owner: dict) -> str:
        made = await cameo_store.create_cameo(
            stores, media, owner_id=owner["user"]["id"], kind="character", name="sunny", mention="sunny", embedding=None, frames=[], voice=None
        )
        return made.id

    theirs, mine = await character(minor), await character(adult)
    err = assert_error(await http.patch(f"/v1/cameos/{theirs}", json={"permission": "everyone"}, headers=minor["headers"]), 403, "cameo_level_not_allowed")
    assert "everyone" not in err["details"]["allowed"]
    assert (await cameo_store.get_cameo(stores, theirs)).permission == "only_me"
    for level in ("approved", "mutuals", "only_me"):
        r = await http.patch(f"/v1/cameos/{theirs}", json={"permission": level}, headers=minor["headers"])
        assert r.status_code == 200 and r.json()["permission"] == level, r.text
    r = await http.patch(f"/v1/cameos/{mine}", json={"permission": "everyone"}, headers=adult["headers"])
    assert r.status_code == 200 and r.json()["permission"] == "everyone", r.text
    # another user's cameo: not the minor's to change, nor the adult's
    assert_error(await http.patch(f"/v1/cameos/{mine}", json={"permission": "only_me"}, headers=minor["headers"]), 403, "not_cameo_owner")
    assert_error(await http.patch(f"/v1/cameos/{theirs}", json={"permission": "everyone"}, headers=adult["headers"]), 403, "not_cameo_owner")
    assert (await cameo_store.get_cameo(stores, theirs)).permission == "only_me"

    # a minor's preferences are moderated with the strict thresholds
    prompt = borderline_prompt()
    assert_error(await http.patch(f"/v1/cameos/{theirs}", json={"preferences": [prompt]}, headers=minor["headers"]), 422, "preference_refused")
    r = await http.patch(f"/v1/cameos/{mine}", json={"preferences": [prompt]}, headers=adult["headers"])
    assert r.status_code == 200 and r.json()["preferences"] == [prompt], r.text


# --- search --------------------------------------------------------------------------------


async def search(http, viewer: dict, q: str, **params) -> list[str]:
    r = await http.get("/v1/users", params={"q": q, **params}, headers=viewer["headers"])
    assert r.status_code == 200, r.text
    return [u["handle"] for u in r.json()["data"]]


async def test_search_hides_a_minor_from_adult_strangers(http):
    p = prefix()
    minor = await signup(http, p + "_kid", birth_date=MINOR)
    adult = await signup(http, p + "_grown")
    stranger, follower, followed = await signup(http), await signup(http), await signup(http)
    other_minor = await signup(http, birth_date=years_ago(14))
    everyone = sorted([minor["user"]["handle"], adult["user"]["handle"]])

    assert await search(http, stranger, p) == [adult["user"]["handle"]]
    assert await search(http, stranger, minor["user"]["handle"]) == []  # not even by the whole handle
    assert await search(http, other_minor, p) == everyone  # minors find each other
    assert await search(http, minor, p.upper()) == everyone  # ignoring case; a minor finds adults and themselves
    r = await http.post(f"/v1/users/{minor['user']['handle']}/follow", headers=follower["headers"])
    assert r.status_code == 200 and r.json()["following"], r.text
    assert await search(http, follower, p) == everyone  # the adult follows them
    r = await http.post(f"/v1/users/{followed['user']['handle']}/follow", headers=minor["headers"])
    assert r.status_code == 200, r.text
    assert await search(http, followed, p) == everyone  # they follow the adult
    assert await search(http, stranger, p) == [adult["user"]["handle"]]  # still hidden from strangers
    # the profile itself never tells anyone the age
    seen = (await http.get(f"/v1/users/{minor['user']['handle']}", headers=follower["headers"])).json()
    assert "birth_date" not in seen and "minor" not in seen

    # a block hides either way
    await block(http, adult, other_minor)
    assert await search(http, other_minor, p) == [minor["user"]["handle"]]


async def test_search_pages_and_refuses_bad_input(http):
    p = prefix()
    made = sorted([(await signup(http, f"{p}_{i}"))["user"]["handle"] for i in range(5)])
    await signup(http, f"{p}_kid", birth_date=MINOR)
    viewer = await signup(http)
    seen, cursor = [], None
    for _ in range(10):
        params = {"q": p, "limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await http.get("/v1/users", params=params, headers=viewer["headers"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= 2
        seen += [u["handle"] for u in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == made  # every adult once, in handle order; the minor on no page
    bad_input = [
        ({"q": ""}, "invalid_request"), ({"q": "x" * 31}, "invalid_request"), ({}, "invalid_request"),
        ({"q": "a b"}, "invalid_query"), ({"q": "a!"}, "invalid_query"), ({"q": "ab\n"}, "invalid_query"), ({"q": "é"}, "invalid_query"),  # API.md: a character other than letters, digits, _
        ({"q": "ab", "limit": 0}, "invalid_request"), ({"q": "ab", "limit": 101}, "invalid_request"), ({"q": "ab", "cursor": "zz"}, "invalid_cursor"),
    ]
    for bad, code in bad_input:
        r = await http.get("/v1/users", params=bad, headers=viewer["headers"])
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (bad, r.text)
    assert_error(await http.get("/v1/users", params={"q": p}), 401)
