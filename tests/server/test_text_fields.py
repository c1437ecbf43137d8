"""Text shown to others refuses control and bidirectional control characters
(NUL, ESC, RLO …) in every field: captions (publish and edit), prompts
(create as JSON or a form, remix, extend), comments and profiles; ordinary
text (accents, emoji, other scripts, a caption's line breaks) passes."""

from __future__ import annotations

import pytest

from core.text import bad_character, is_blank
from tests.conftest import signup
from tests.feed.test_social import new_post, ready_video

BAD = {"NUL": "\x00", "ESC": "\x1b", "RLO": "\u202e", "LRI": "\u2066", "RLM": "\u200f", "C1": "\x85", "DEL": "\x7f"}
GOOD = ["café ☕ día", "見て 🎉", "two lines\nof caption", "tab\tseparated"]


@pytest.mark.parametrize("name", BAD)
def test_bad_characters_are_found(name):
    assert bad_character(f"look{BAD[name]}here") == BAD[name]


@pytest.mark.parametrize("text", GOOD)
def test_ordinary_text_passes(text):
    assert bad_character(text) is None


def _field_error(r) -> str:
    assert r.status_code == 400, r.text
    err = r.json()["error"]  # (the Videos API adds OpenAI's type and param)
    assert err["code"] == "invalid_request" and err["message"], err
    return err["message"] + repr(err["details"])


@pytest.mark.parametrize("name", ["NUL", "ESC", "RLO"])
async def test_captions_refuse_control_and_bidi(http, stores, name):
    me = await signup(http)
    vid = await ready_video(stores, me)
    caption = f"my clip{BAD[name]}gpj.exe"
    r = await http.post("/v1/posts", json={"video_id": vid, "caption": caption}, headers=me["headers"])
    assert "caption" in _field_error(r)
    assert await stores.db.posts.count_documents({"video_id": vid}) == 0
    post = await new_post(http, stores, me, caption="fine\nwith a line break")
    r = await http.patch(f"/v1/posts/{post['id']}", json={"caption": caption}, headers=me["headers"])
    assert "caption" in _field_error(r)
    assert (await http.get(f"/v1/posts/{post['id']}", headers=me["headers"])).json()["caption"] == "fine\nwith a line break"


@pytest.mark.parametrize("name", ["NUL", "ESC", "RLO"])
async def test_prompts_refuse_control_and_bidi(http, stores, name):
    me = await signup(http)
    prompt = f"a red fox{BAD[name]} in snow"
    for kwargs in ({"json": {"prompt": prompt}}, {"data": {"prompt": prompt}, "files": {}}):
        r = await http.post("/v1/videos", headers=me["headers"], **kwargs)
        assert "prompt" in _field_error(r)
    vid = await ready_video(stores, me)
    r = await http.post(f"/v1/videos/{vid}/remix", json={"prompt": prompt}, headers=me["headers"])
    assert "prompt" in _field_error(r)
    r = await http.post("/v1/videos/extensions", json={"prompt": prompt, "video": {"id": vid}}, headers=me["headers"])
    assert "prompt" in _field_error(r)
    assert await stores.db.videos.count_documents({"owner_id": me["user"]["id"]}) == 1


async def test_comments_and_profiles_refuse_bidi_too(http, stores):
    me = await signup(http)
    post = await new_post(http, stores, me)
    r = await http.post(f"/v1/posts/{post['id']}/comments", json={"text": "nice \u202eetob"}, headers=me["headers"])
    assert "text" in _field_error(r)
    for field in ("bio", "display_name"):
        r = await http.patch("/v1/me", json={field: "hello \u2067world"}, headers=me["headers"])
        assert field in _field_error(r)


async def test_ordinary_text_is_kept(http, stores):
    me = await signup(http)
    for text in GOOD:
        post = await new_post(http, stores, me, caption=text)
        assert post["caption"] == text
    r = await http.post("/v1/videos", json={"prompt": "café ☕ 見て"}, headers=me["headers"])
    assert r.status_code == 200, r.text


INVISIBLE = ["\ufeff", "\u200b\u200d", " \u00ad ", "\u3164", "\u2800\u2800"]


@pytest.mark.parametrize("text", INVISIBLE + ["   ", ""])
def test_text_that_shows_nothing_is_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", GOOD + ["\u200bx", "a\u00adb", "🎉"])
def test_text_that_shows_something_is_not_blank(text):
    assert not is_blank(text)


async def test_a_caption_of_invisible_characters_is_refused_and_an_empty_one_kept(http, stores):
    me = await signup(http)
    vid = await ready_video(stores, me)
    r = await http.post("/v1/posts", json={"video_id": vid, "caption": "\u200b\ufeff"}, headers=me["headers"])
    assert "caption" in _field_error(r)
    post = await new_post(http, stores, me, caption="")
    assert post["caption"] == ""
    r = await http.patch(f"/v1/posts/{post['id']}", json={"caption": "\u3164"}, headers=me["headers"])
    assert "caption" in _field_error(r)
