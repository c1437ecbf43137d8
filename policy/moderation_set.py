"""The labelled prompt set (``policy/data/moderation_prompts.jsonl``): one
video prompt a line, ``{"text", "label", "writer"}``, the label ``benign`` or
one of ``policy.categories.CATEGORIES``, the writer a short tag of who wrote
the prompt (``bench/train_moderation.py --by-writer`` leaves each writer out
in turn, to see how the classifier does on a writer it has not read).

The split is fixed by the text alone: a prompt whose SHA-256 falls in the
lowest 30% of the range is in ``test``, the rest in ``train``; adding
prompts never moves the others. The classifier and its thresholds are
fitted on ``train`` only; ``bench/moderation.py`` reports ``test``.

``unseen`` is a second labelled set, ``policy/data/moderation_unseen.jsonl``,
by writers none of whose prompts are in the first: nothing is fitted,
thresholded or made an exception on it, so it shows how the classifier does
on people whose wording it has never read (``bench/moderation.py --split
unseen``)."""

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


def _read(file: str) -> tuple[Example, ...]:
    decoder = msgspec.json.Decoder(Example)
    lines = read_text("policy.data", file).splitlines()
    return tuple(decoder.decode(line) for line in lines if line.strip())


@cache
def examples() -> tuple[Example, ...]:
    return _read("moderation_prompts.jsonl")


@cache
def unseen() -> tuple[Example, ...]:
    """The writer-disjoint evaluation set (never read by training)."""
    return _read("moderation_unseen.jsonl")


def split(name: str) -> list[Example]:
    """The ``train`` or ``test`` examples, in file order, or with ``"unseen"`` the
    writer-disjoint set."""
    if name == "unseen":
        return list(unseen())
    return [e for e in examples() if split_of(e.text) == name]
