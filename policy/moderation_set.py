"""The labelled prompt set (``policy/data/moderation_prompts.jsonl``): one
video prompt a line, ``{"text", "label", "writer"}``, the label ``benign`` or
one of ``policy.categories.CATEGORIES``, the writer a short tag of who wrote
the prompt (``bench/train_moderation.py --by-writer`` leaves each writer out
in turn, to see how the classifier does on a writer it has not read).

The split is fixed by the text alone: a prompt whose SHA-256 falls in the
lowest 30% of the range is in ``test``, the rest in ``train``; adding
prompts never moves the others. The classifier and its thresholds are
fitted on ``train`` only; ``bench/moderation.py`` reports ``test``."""

from __future__ import annotations

import hashlib
from functools import cache

import msgspec

from core.package_files import read_text

TEST_SHARE = 0.30
BENIGN = "benign"


class Example(msgspec.Struct, frozen=True):
    text: str
    label: str
    writer: str = ""

    @property
    def refuse(self) -> bool:
        return self.label != BENIGN


def split_of(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "test" if int.from_bytes(digest[:8], "big") < TEST_SHARE * 2**64 else "train"


@cache
def examples() -> tuple[Example, ...]:
    decoder = msgspec.json.Decoder(Example)
    lines = read_text("policy.data", "moderation_prompts.jsonl").splitlines()
    return tuple(decoder.decode(line) for line in lines if line.strip())


def split(name: str) -> list[Example]:
    """The ``train`` or ``test`` examples, in file order."""
    return [e for e in examples() if split_of(e.text) == name]
