"""The app's settings and people screens in Chromium against a live api: a
profile edited, an account made private and public again, a password
changed, one's data downloaded, signing out everywhere, a birth date added
to an account that had none; finding people by handle; blocking from a
profile and unblocking in Settings; removing a follower; the session and
the unread count shared by a browser's tabs; reporting someone twice."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from core.stores import open_stores
from tests.app.conftest import PASSWORD, api_signup, phone, shot
from tests.app.test_flows import TOAST_LOG

pytestmark = pytest.mark.timeout(900)

HTTP_S = 180  # s: an api call on a busy machine


def handle(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8]


def login(base: str, name: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{base}/v1/auth/login", json={"handle": name, "password": password}, timeout=HTTP_S)


def me_of(base: str, session: dict) -> httpx.Response:
    return httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {session['token']}"}, timeout=HTTP_S)


def open_settings(page) -> None:
    page.goto("/me")
    page.click("a[aria-label=Settings]")
    page.wait_for_selector(".screen.settings [data-save-profile]")


def test_settings_edit_the_profile_privacy_password_data_and_sessions(app_api, browser):
    base = app_api.url
    me = api_signup(base, handle("st"))
    name = me["user"]["handle"]
    other_device = login(base, name).json()  # signed in elsewhere too
    p = phone(browser, base, me)
    open_settings(p)
    shot(p, "settings")

    # spaces alone clear the name, and the field shows what was saved
    p.fill("input[name=display_name]", "   ")
    p.click("[data-save-profile]")
    p.wait_for_selector(".toast:has-text('Profile saved')")
    assert p.input_value("input[name=display_name]") == "" and me_of(base, me).json()["display_name"] == ""
    p.wait_for_selector(".toast", state="detached")

    # profile: name and bio, seen on the profile and by the API
    p.fill("input[name=display_name]", "Ada from the hills")
    p.fill("textarea[name=bio]", "Short films about clouds.")
    p.click("[data-save-profile]")
    p.wait_for_selector(".toast:has-text('Profile saved')")
    got = me_of(base, me).json()
    assert (got["display_name"], got["bio"]) == ("Ada from the hills", "Short films about clouds."), got
    p.goto("/me")
    p.wait_for_selector(".profile-head h2:has-text('Ada from the hills')")
    assert "Short films about clouds." in p.inner_text(".profile-head .bio")

    # privacy: private, then public again after saying yes to what that does
    open_settings(p)
    p.click(".toggle-row:has([data-private])")
    p.wait_for_selector(".toast:has-text('Your account is private')")
    assert me_of(base, me).json()["private"] is True
    p.click(".toggle-row:has([data-private])")
    p.wait_for_selector(".sheet:has-text('Make your account public?')")
    p.click(".sheet button:has-text('Cancel')")
    p.wait_for_selector(".sheet-scrim", state="detached")
    assert p.is_checked("[data-private]") and me_of(base, me).json()["private"] is True
    p.click(".toggle-row:has([data-private])")
    p.click(".sheet [data-confirm]")
    p.wait_for_selector(".toast:has-text('Your account is public')")
    assert me_of(base, me).json()["private"] is False

    # password: a wrong current one and a short new one are told plainly; then it changes
    p.fill("input[name=current_password]", "not my password")
    p.fill("input[name=new_password]", "violet tractor harbour 9")
    p.click("[data-change-password]")
    p.wait_for_selector(".settings-form .form-error:not([hidden]):has-text('Your current password is not right.')")
    p.fill("input[name=current_password]", PASSWORD)
    p.fill("input[name=new_password]", "short")
    p.click("[data-change-password]")
    p.wait_for_selector(".settings-form .form-error:not([hidden]):has-text('at least 8 characters')")
    p.fill("input[name=new_password]", "aaaaaaaaaaaa")  # long enough, and too easy: said as a sentence, its hint too
    p.click("[data-change-password]")
    weak = p.wait_for_selector(".settings-form .form-error:not([hidden]):has-text('too easy to guess')").inner_text()
    assert weak.startswith("That password is too easy to guess. ") and weak.endswith("A few unrelated words make a good one."), weak
    assert "(" not in weak, weak
    p.fill("input[name=new_password]", "violet tractor harbour 9")
    p.click("[data-change-password]")
    p.wait_for_selector(".toast:has-text('Password changed. Signed out on 1 other device.')")
    assert login(base, name).status_code == 401
    assert login(base, name, "violet tractor harbour 9").status_code == 200
    assert me_of(base, other_device).status_code == 401  # the other device is signed out
    assert me_of(base, me).status_code == 200  # this one is not

    # one's data, as a zip the browser downloads
    with p.expect_download(timeout=HTTP_S * 1000) as download:
        p.click("[data-export]")
    assert download.value.suggested_filename == f"fabula-{name}.zip"
    with zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())) as z:
        account = json.loads(z.read("account.json"))
    assert (account["handle"], account["display_name"]) == (name, "Ada from the hills"), account

    # signing out everywhere ends this session as well, as asked: not "your session ended",
    # and the sign-in page does not send the next person back to these settings
    laptop = phone(browser, base, login(base, name, "violet tractor harbour 9").json())  # another device, in the app
    laptop.goto("/inbox")
    laptop.wait_for_selector(".tabbar")
    p.evaluate(TOAST_LOG)
    p.click("[data-sign-out-everywhere]")
    p.click(".sheet [data-confirm]")
    p.wait_for_url(re.compile(r"/signin\?mode=signin&notice=everywhere$"))
    p.wait_for_selector(".auth-notice:has-text(\"You're signed out on every device.\")")
    assert me_of(base, me).status_code == 401
    p.wait_for_timeout(500)
    assert not p.evaluate("window.__toasts.some((t) => t.includes('session ended'))"), p.evaluate("window.__toasts")
    # the other device is told why it is signed out, on the page it lands on, and comes back after
    laptop.wait_for_url(re.compile(r"/signin\?next=%2Finbox&notice=ended$"))
    laptop.wait_for_selector(".auth-notice[data-notice=ended]:has-text('ended from another device')")
    assert not p.js_errors and not laptop.js_errors, (p.js_errors, laptop.js_errors)
    p.context.close()
    laptop.context.close()


async def _forget_birth_date(settings, user_id: str) -> None:
    stores = open_stores(settings)
    try:
        await stores.db.users.update_one({"_id": user_id}, {"$unset": {"birth_date": ""}})
    finally:
        await stores.close()


def test_an_account_without_a_birth_date_adds_one_once(app_api, app_settings, browser):
    """Accounts made before birth dates were asked have none: Settings offers
    to add it, once; an account that has one is not asked."""
    base = app_api.url
    me = api_signup(base, handle("bd"))
    p = phone(browser, base, me)
    open_settings(p)
    assert not p.query_selector("input[name=birth_date]")  # signed up with one
    # as an account from before (in a thread of its own: Playwright's loop runs in this one)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _forget_birth_date(app_settings, me["user"]["id"])).result()
    assert me_of(base, me).json()["birth_date"] is None
    p.reload()
    p.wait_for_selector("input[name=birth_date]")
    p.fill("input[name=birth_date]", "2015-05-05")  # under 13: refused as at sign-up
    p.click(".settings-form:has(input[name=birth_date]) button[type=submit]")
    p.click(".sheet [data-confirm]")
    p.wait_for_selector(".settings-form .form-error:not([hidden]):has-text('13')")
    assert me_of(base, me).json()["birth_date"] is None
    p.fill("input[name=birth_date]", "1994-02-03")
    p.click(".settings-form:has(input[name=birth_date]) button[type=submit]")
    p.click(".sheet [data-confirm]")
    p.wait_for_selector(".toast:has-text('Birth date saved')")
    p.wait_for_selector("input[name=birth_date]", state="detached")
    assert me_of(base, me).json()["birth_date"] == "1994-02-03"
    assert not p.js_errors, p.js_errors
    p.context.close()


def test_finding_people_by_the_start_of_their_handle(app_api, browser):
    base = app_api.url
    stem = "fp" + uuid.uuid4().hex[:6]
    found = [api_signup(base, f"{stem}_{i:02d}") for i in range(21)]
    me = api_signup(base, handle("sr"))
    p = phone(browser, base, me)
    p.goto("/")
    p.click(".feed-search")
    p.click("input[name=q]")
    p.keyboard.type("@" + stem.upper())  # a leading @ and any case
    p.wait_for_selector(f".search-results .list-row[data-handle='{stem}_00']")
    assert p.locator(".search-results .list-row").count() == 20
    shot(p, "search")
    p.click("[data-more]")
    p.wait_for_selector(f".search-results .list-row[data-handle='{stem}_20']")
    handles = p.eval_on_selector_all(".search-results .list-row", "rows => rows.map((r) => r.dataset.handle)")
    assert handles == [u["user"]["handle"] for u in found], handles
    assert "/search?q=" in p.url

    p.fill("input[name=q]", "no-dash")
    p.wait_for_selector(".search-results:has-text('Not a handle')")
    p.fill("input[name=q]", "zz" + uuid.uuid4().hex[:10])
    p.wait_for_selector(".search-results:has-text('No one found')")

    # a row opens the profile
    p.fill("input[name=q]", f"{stem}_07")
    p.click(f".search-results .list-row[data-handle='{stem}_07'] a")
    p.wait_for_url(re.compile(rf"/u/{stem}_07$"))
    p.wait_for_selector("button[data-follow]")
    assert not p.js_errors, p.js_errors
    p.context.close()


def test_blocking_from_a_profile_and_unblocking_in_settings(app_api, browser):
    base = app_api.url
    me, them, bystander = api_signup(base, handle("bk")), api_signup(base, handle("bt")), api_signup(base, handle("by"))
    theirs = them["user"]["handle"]
    assert httpx.post(f"{base}/v1/users/{me['user']['handle']}/follow", headers=them["headers"], timeout=HTTP_S).status_code == 200
    # someone else's block is not on my list
    httpx.post(f"{base}/v1/users/{me['user']['handle']}/block", headers=bystander["headers"], timeout=HTTP_S)

    p = phone(browser, base, me)
    p.goto(f"/u/{theirs}")
    p.wait_for_selector("button[data-follow]")
    p.click("button[aria-label=More]")
    p.click(".sheet [data-block-user]")
    p.wait_for_selector(f".sheet:has-text('Block @{theirs}?')")
    p.click(".sheet [data-confirm]")
    p.wait_for_url(re.compile(r"/settings/blocked$"))
    p.wait_for_selector(f".blocked-list .list-row[data-handle='{theirs}']")
    assert p.locator(".blocked-list .list-row").count() == 1
    shot(p, "blocked")
    h = {"Authorization": f"Bearer {me['token']}"}
    assert httpx.get(f"{base}/v1/users/{theirs}", headers=h, timeout=HTTP_S).status_code == 404
    assert me_of(base, me).json()["followers"] == 0  # their follow ended with the block

    p.click(f"[data-unblock='{theirs}']")
    p.wait_for_selector(f".blocked-list .list-row[data-handle='{theirs}'] .pill:has-text('Unblocked')")
    assert httpx.get(f"{base}/v1/users/{theirs}", headers=h, timeout=HTTP_S).status_code == 200
    assert httpx.get(f"{base}/v1/me/blocks", headers=h, timeout=HTTP_S).json()["data"] == []
    p.reload()
    p.wait_for_selector(".settings:has-text('You block nobody')")
    assert not p.js_errors, p.js_errors
    p.context.close()


def test_removing_a_follower_from_ones_followers(app_api, browser):
    base = app_api.url
    me, fan, friend = api_signup(base, handle("rf")), api_signup(base, handle("fa")), api_signup(base, handle("fr"))
    mine = me["user"]["handle"]
    for who in (fan, friend):
        assert httpx.post(f"{base}/v1/users/{mine}/follow", headers=who["headers"], timeout=HTTP_S).status_code == 200
    p = phone(browser, base, me)
    p.goto("/me")
    p.click(".stat:has-text('followers')")
    row = f".sheet .list-row[data-handle='{fan['user']['handle']}']"
    p.wait_for_selector(f"{row} [data-remove-follower]")
    p.click(f"{row} [data-remove-follower]")
    p.click(".sheet [data-confirm]")
    p.wait_for_selector(f"{row} .pill:has-text('Removed')")
    rel = httpx.get(f"{base}/v1/users/{fan['user']['handle']}/following", headers=fan["headers"], timeout=HTTP_S).json()["data"]
    assert rel == []
    assert me_of(base, me).json()["followers"] == 1
    p.wait_for_function("() => document.querySelector('.stat strong').textContent === '1'")  # the count follows
    # another's followers have no Remove: they are not mine to remove
    p.goto(f"/u/{friend['user']['handle']}")
    assert httpx.post(f"{base}/v1/users/{friend['user']['handle']}/follow", headers=fan["headers"], timeout=HTTP_S).status_code == 200
    p.click(".stat:has-text('followers')")
    p.wait_for_selector(f".sheet .list-row[data-handle='{fan['user']['handle']}']")
    assert not p.query_selector(".sheet [data-remove-follower]")
    assert not p.js_errors, p.js_errors
    p.context.close()


def test_tabs_share_the_session_and_the_unread_count(app_api, browser):
    """The session is kept in the browser: a new tab is signed in; the unread
    count read in one tab shows in the others; signing out in one tab signs
    the others out, and signing in again brings them back."""
    base = app_api.url
    me, fan = api_signup(base, handle("tb")), api_signup(base, handle("tf"))
    a = phone(browser, base, me)
    a.goto("/")
    a.wait_for_selector(".screen.feed")
    b = a.context.new_page()
    b.goto("/me")
    b.wait_for_selector(f".profile-head:has-text('@{me['user']['handle']}')")  # signed in, not sent to /signin

    assert httpx.post(f"{base}/v1/users/{me['user']['handle']}/follow", headers=fan["headers"], timeout=HTTP_S).status_code == 200
    for page in (a, b):
        page.wait_for_selector(".tabbar .badge:not([hidden]):has-text('1')")
    a.goto("/inbox")
    a.wait_for_selector(".tabbar .badge[hidden]", state="attached")
    b.wait_for_selector(".tabbar .badge[hidden]", state="attached")  # read in the other tab
    assert httpx.get(f"{base}/v1/notifications", headers=me["headers"], timeout=HTTP_S).json()["unread_count"] == 0

    b.goto("/settings")
    b.click("[data-sign-out]")
    b.wait_for_url(re.compile(r"/signin\?mode=signin$"))
    # the other tab is signed out with it (by the shared storage, or by its socket's 4401, whichever comes first)
    a.wait_for_url(re.compile(r"/signin\?"))
    assert me_of(base, me).status_code == 401
    a.click("[role=tab]:has-text('Sign in')")
    a.fill("input[name=handle]", me["user"]["handle"])
    a.fill("input[name=password]", PASSWORD)
    a.click("form.auth-form button[type=submit]")
    a.wait_for_function("() => !location.pathname.startsWith('/signin')")
    b.wait_for_selector(".screen.feed")  # signed in with it
    b.goto("/settings")
    b.wait_for_selector(".screen.settings [data-save-profile]")
    assert not a.js_errors, a.js_errors
    a.context.close()


def test_reporting_someone_again_says_it_was_reported_already(app_api, browser):
    """A person reports a thing once; a second report, with another reason or
    the same one, is answered with the first (``repeated``), and the app says so
    instead of thanking twice."""
    base = app_api.url
    me, them = api_signup(base, handle("rr")), api_signup(base, handle("rt"))
    theirs = them["user"]["handle"]
    p = phone(browser, base, me)
    p.goto(f"/u/{theirs}")
    again = "You reported this already, as “Spam or scam”."
    for reason, said in (("spam", "Thanks. Our moderators will take a look."), ("hate", again), ("spam", again)):
        p.click("button[aria-label=More]")
        p.click(".sheet [data-report-user]")
        p.click(f".sheet [data-reason='{reason}']")
        with p.expect_response(lambda r: r.url.endswith(f"/v1/users/{theirs}/report")) as answered:
            p.click(".sheet [data-send-report]")
        filed = answered.value.json()
        assert answered.value.status == 200 and filed["reason"] == "spam" and filed["repeated"] == (said == again)
        p.wait_for_selector(f".toast:has-text('{said}')")
        p.wait_for_selector(".toast", state="detached", timeout=10000)  # the next answer is its own toast
        p.wait_for_selector(".sheet-scrim", state="detached")
    assert not p.js_errors, p.js_errors
    p.context.close()


def test_reloading_the_feed_resumes_it_and_loses_no_video(app_api, app_worker, browser):
    """A reload opened a new feed session and left the old one as it was: the
    clips it had sent ahead counted as seen, and after two reloads a new account
    read "Nothing new for you" having watched one or two. The tab now resumes its
    session from the video on screen; so does coming back to the feed within the
    app; and a closed tab gives back what it was sent ahead. (The feed also holds
    the posts of this module's other tests: what is checked is the clips sent
    ahead, whatever they are.)"""
    from tests.app.test_flows import wait_done

    base = app_api.url
    author = api_signup(base, handle("fa"))
    for n in range(7):
        made = httpx.post(f"{base}/v1/videos", headers=author["headers"], json={"prompt": f"a paper boat number {n} on a pond", "seconds": "1", "size": "64x64"}, timeout=HTTP_S).json()
        wait_done(base, author, made["id"])
        httpx.post(f"{base}/v1/posts", headers=author["headers"], json={"video_id": made["id"]}, timeout=HTTP_S)
    me = api_signup(base, handle("fr"))
    p = phone(browser, base, me)
    p.goto("/")
    p.wait_for_selector(".screen.feed[data-post-id]")
    on_screen = lambda: p.get_attribute(".screen.feed", "data-post-id")  # noqa: E731
    sent_ahead = lambda: set(p.evaluate(  # noqa: E731
        "[...document.querySelectorAll('.feed-slide .post-card')].map((c) => c.dataset.postId)")) - seen
    seen = {on_screen()}
    owed: set[str] = set()  # clips the app was sent and the person has not reached: none may be lost
    for _ in range(2):
        p.wait_for_timeout(1200)  # watched a little, then the page is reloaded
        owed |= sent_ahead()
        p.reload()
        p.wait_for_selector(".screen.feed[data-post-id]")
        seen.add(on_screen())
    for _ in range(3):  # three further on, with clips sent ahead of it, the page is reloaded again
        p.keyboard.press("ArrowDown")
        p.wait_for_timeout(900)
        seen.add(on_screen())
    here = on_screen()
    owed |= sent_ahead()
    p.reload()
    p.wait_for_selector(".screen.feed[data-post-id]")
    assert on_screen() == here  # back on the video it was on
    # leaving the feed in the app and coming back: the same video again, not a new session's
    p.click(".feed-search")
    p.wait_for_selector(".screen.search")
    p.go_back()
    p.wait_for_selector(f".screen.feed[data-post-id='{here}']")
    deadline = time.monotonic() + 180
    while not owed <= seen and time.monotonic() < deadline:  # then swipe on: everything owed comes
        p.keyboard.press("ArrowDown")
        p.wait_for_timeout(600)
        seen.add(on_screen())
    assert owed and owed <= seen, (owed - seen, len(seen))
    assert not p.js_errors, p.js_errors
    p.context.close()

    # a tab closed while clips were sent ahead of the one on screen: a new tab's feed still has them
    other = api_signup(base, handle("fc"))
    q = phone(browser, base, other)
    q.goto("/")
    q.wait_for_selector(".screen.feed[data-post-id]")
    watched = q.get_attribute(".screen.feed", "data-post-id")
    q.wait_for_function("() => Number(document.querySelector('.screen.feed').dataset.count) >= 3")  # sent ahead
    q.wait_for_timeout(800)
    ahead = set(q.evaluate("[...document.querySelectorAll('.feed-slide .post-card')].map((c) => c.dataset.postId)")) - {watched}
    assert ahead
    tab = q.context.new_page()  # the person opens a new tab and closes the first
    q.close()
    tab.goto("/")
    tab.wait_for_selector(".screen.feed[data-post-id]")
    later = {tab.get_attribute(".screen.feed", "data-post-id")}
    deadline = time.monotonic() + 180
    while not ahead <= later and time.monotonic() < deadline:
        tab.keyboard.press("ArrowDown")
        tab.wait_for_timeout(600)
        later.add(tab.get_attribute(".screen.feed", "data-post-id"))
    assert ahead <= later, (ahead, watched, later)
    tab.context.close()
