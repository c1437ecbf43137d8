"""The message of a JSON document that does not decode (core.json_errors):
an unpaired surrogate escape is named, a cut-off document still says so."""

from __future__ import annotations

import msgspec
import pytest

from core.json_errors import TRUNCATED, UNPAIRED, decode_error_text, http_message


def _error(raw):
    with pytest.raises(msgspec.DecodeError) as caught:
        msgspec.json.decode(raw)
    return caught.value


@pytest.mark.parametrize(
    "raw",
    [rb'{"a": "\ud800"}', rb'{"a": "x\uDBFFy"}', rb'{"a": "\\\ud800"}', r'{"a": "\ud83d and more"}', rb'["\ud800\u0041"'],
)
def test_an_unpaired_high_surrogate_is_named(raw):
    exc = _error(raw)
    if str(exc) == TRUNCATED:  # msgspec's own words for most of these
        assert decode_error_text(exc, raw) == UNPAIRED
    else:
        assert "surrogate" in decode_error_text(exc, raw)


@pytest.mark.parametrize("raw", [b'{"a": ', rb'{"a": "\\ud800"', rb'{"a": "\ud800\udc00"', b'{"a": "abc'])
def test_a_cut_off_document_still_says_truncated(raw):
    """An escaped backslash before ``ud800`` is text, not an escape; a whole pair is fine."""
    exc = _error(raw)
    assert decode_error_text(exc, raw) == TRUNCATED == str(exc)


def test_the_http_message_drops_msgspecs_prefix():
    raw = rb'{"a": "\ud800"}'
    assert http_message(_error(raw), raw) == "malformed JSON: " + UNPAIRED.removeprefix("JSON is malformed: ")
    assert http_message(_error(b"{,}"), b"{,}") == "malformed JSON: object keys must be strings (byte 1)"
    assert http_message(_error(b"{"), None) == "malformed JSON: " + TRUNCATED
