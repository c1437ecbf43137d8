"""The characters user text may not hold (core.text), and the JSON Schema
patterns that state the same rules in the OpenAPI document."""

from __future__ import annotations

import re

import pytest

from core.text import LINE_SCHEMA, TEXT_SCHEMA, bad_character, is_blank

CODE_POINTS = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]


@pytest.mark.parametrize("one_line,schema", [(False, TEXT_SCHEMA), (True, LINE_SCHEMA)])
def test_the_schema_pattern_refuses_exactly_what_the_check_refuses(one_line, schema):
    pattern = re.compile(schema["pattern"])  # \\uXXXX classes read alike by Python and ECMA-262
    disagree = [hex(c) for c in CODE_POINTS if (pattern.fullmatch(chr(c)) is None) != (bad_character(chr(c), one_line=one_line) is not None)]
    assert not disagree, disagree[:20]
    assert (pattern.fullmatch("a caption\nover two lines") is None) == one_line


def test_what_each_rule_refuses():
    for c in "\x00\x1b\r\x7f\x85\u061c\u200e\u202e\u2067":
        assert bad_character(f"a{c}b") == c and bad_character(f"a{c}b", one_line=True) == c
    for c in "\n\t":
        assert bad_character(f"a{c}b") is None and bad_character(f"a{c}b", one_line=True) == c
    assert bad_character("a\u2028b") is None and bad_character("a\u2028b", one_line=True) == "\u2028"
    assert bad_character("Zoë, 東京, 🙂, עברית") is None
    assert is_blank("\u200b \u3164") and not is_blank("\u200ba")
