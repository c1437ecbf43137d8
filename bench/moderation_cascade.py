"""Would a cheap first reading of a long prompt let moderation skip MiniLM's
full pass? (Tried for the p99 goal; not served: docs/SAFETY.md.)

    python -m bench.moderation_cascade

The p99 of ``moderate_prompt`` is the long prompts' MiniLM pass, whose cost
grows with the tokens. The cascade measured here reads a prompt of more than
``SHORT`` tokens first with MiniLM cut to its first k tokens (the n-grams
always read all of it), with the served weights; when both of the
decision's quantities (P(not benign) against ``any``, P(minors) against its
own threshold) are at least ``margin`` away from their thresholds in
log-odds, that reading decides; otherwise the full pass runs after it.

For every judgeable prompt of both labelled sets (train, test and the writers
never read) longer than ``SHORT`` tokens it prints, per k and margin and for
the default and strict thresholds: the share decided early and how many
decisions differ from the full pass's (and how many of those are prompts that
must be refused). For the test split it prints the embedding's cost at the
rank of the split's p99 (the 1% most costly of all its prompts fall among the
long ones) and the long prompts' mean, with and without the cascade; one
prompt at a time, one thread, each reading timed once.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from core import minilm
from policy import moderation_model
from policy.mentions import strip_mentions
from policy.moderation_set import BENIGN, examples, split_of, unseen
from policy.prompt import judgeable

SHORT = 32
CUTS = (24, 32, 48)
MARGINS = (1.0, 2.0, 2.5, 3.0)


def _reading(text: str, tokens: int) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    row = minilm.embed([moderation_model.embedding_input(text)], "int8", max_tokens=tokens, pooling="mean+max")[0]
    return np.asarray(row, dtype=np.float64), time.perf_counter() - started


def _log_odds(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _refused(probs: dict[str, float], strict: bool) -> bool:
    return moderation_model.flagged(probs, strict) is not None


def _settled(probs: dict[str, float], strict: bool, margin: float) -> bool:
    limits = moderation_model.model().thresholds(strict)
    harm = _log_odds(1 - probs[BENIGN]) - _log_odds(limits["any"])
    minors = _log_odds(probs["minors"]) - _log_odds(limits["minors"])
    return abs(harm) >= margin and abs(minors) >= margin


def read_long_prompts() -> tuple[list[dict], int]:
    """Every long judgeable prompt with its probabilities and times per reading; and the test split's size."""
    model = moderation_model.model()
    moderation_model.probabilities("warm up")
    rows, test_size = [], 0
    for example, where in [(e, split_of(e.text)) for e in examples()] + [(e, "unseen") for e in unseen()]:
        text = strip_mentions(example.text)
        if not judgeable(text):
            continue
        test_size += where == "test"
        if len(minilm.token_ids(moderation_model.embedding_input(text))) <= SHORT:
            continue
        row = {"split": where, "harmful": example.label != BENIGN}
        for tokens in (moderation_model.MAX_TOKENS, *CUTS):
            embedding, seconds = _reading(text, tokens)
            row[tokens] = (model.probabilities(embedding, text), seconds)
        rows.append(row)
    return rows, test_size


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    rows, test_size = read_long_prompts()
    full = moderation_model.MAX_TOKENS
    print(f"{len(rows)} judgeable prompts over {SHORT} tokens (train, test and never-read sets)")
    print("| thresholds | first reading | margin (log-odds) | decided early | decisions changed | of them must refuse |")
    print("| --- | --- | --- | --- | --- | --- |")
    for strictness in ("default", "strict"):
        strict = strictness == "strict"
        for tokens in CUTS:
            for margin in MARGINS:
                early = changed = harmful = 0
                for row in rows:
                    cheap = row[tokens][0]
                    if _settled(cheap, strict, margin):
                        early += 1
                        if _refused(cheap, strict) != _refused(row[full][0], strict):
                            changed += 1
                            harmful += row["harmful"]
                print(f"| {strictness} | {tokens} tokens | {margin:g} | {early / len(rows):.1%} | {changed} | {harmful} |")
    test = [row for row in rows if row["split"] == "test"]
    rank = max(1, int(0.01 * test_size))

    def at_rank(costs: list[float]) -> float:
        return sorted(costs, reverse=True)[rank - 1] * 1000

    plain = [row[full][1] for row in test]
    print(f"\ntest split: {len(test)} of {test_size} prompts over {SHORT} tokens; its p99 is the cost at rank {rank}")
    print(f"full pass alone: {at_rank(plain):.2f} ms at that rank, long prompts' mean {1000 * sum(plain) / len(plain):.2f} ms")
    for tokens, margin in ((24, 3.0), (32, 3.0), (48, 2.5)):
        costs = [
            row[tokens][1] + (0.0 if _settled(row[tokens][0], False, margin) else row[full][1])
            for row in test
        ]
        print(f"cascade, {tokens} tokens first, margin {margin:g}: {at_rank(costs):.2f} ms at that rank "
              f"({at_rank(costs) / at_rank(plain):.2f}x), long prompts' mean {1000 * sum(costs) / len(costs):.2f} ms")


if __name__ == "__main__":
    main()
