"""Prompt moderation on the labelled test split: the confusion table,
per-category precision, recall and false-positive rate, and the latency of
one ``moderate_prompt`` call.

    python -m bench.moderation                 # the test split
    python -m bench.moderation --split train   # the train split (what the thresholds were fitted on)
    python -m bench.moderation --file my.jsonl # another labelled set, same format
    python -m bench.moderation --misses        # also list every wrong decision

Definitions, per category C (rows of the table are the labels, columns what
the moderation answered):

- recall: the share of prompts labelled C that are refused (under any
  category: a refusal is what the goal asks for; the table shows which);
- precision: of the prompts refused under C, the share that must be refused;
- FPR: the share of benign prompts refused under C; "overall" counts a
  benign prompt refused under any category.

Latency: wall time of ``moderate_prompt`` per prompt, one prompt at a time,
after the models are loaded, with torch on one thread (as in a busy api
process; set ``--threads`` otherwise). Each prompt is timed ``--repeat``
times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from pathlib import Path

import msgspec

from policy.categories import CATEGORIES
from policy.moderation_set import BENIGN, Example, split
from policy.prompt import assess_prompt, load_models

LABELS = [BENIGN, *CATEGORIES]


def read_file(path: Path) -> list[Example]:
    decoder = msgspec.json.Decoder(Example)
    return [decoder.decode(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(examples: list[Example], repeat: int, show_misses: bool) -> dict:
    load_models()
    answers: list[str] = []
    layers: Counter[str] = Counter()
    times: list[float] = []
    misses: list[str] = []
    for example in examples:
        best = None
        for _ in range(repeat):
            start = time.perf_counter()
            assessment = assess_prompt(example.text)
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            best = assessment
        assert best is not None
        decision = best.decision
        answer = BENIGN if decision.allowed else (decision.category or "?")
        answers.append(answer)
        if not decision.allowed:
            layers[best.layer or "?"] += 1
        if (answer == BENIGN) != (example.label == BENIGN):
            misses.append(f"{example.label:>11} -> {answer:<11} [{best.layer or '-'}] {example.text}")

    confusion: Counter[tuple[str, str]] = Counter(zip((e.label for e in examples), answers))
    print(f"{len(examples)} prompts; refusals by layer: {dict(layers)}\n")
    columns = [label for label in LABELS if any(a == label for a in answers)] + sorted(
        {a for a in answers if a not in LABELS}
    )
    head = "label \\ answer".ljust(14) + "".join(c[:9].rjust(10) for c in columns) + "     total"
    print(head)
    for label in LABELS:
        row = [confusion[label, c] for c in columns]
        if sum(row):
            print(label.ljust(14) + "".join(str(v).rjust(10) for v in row) + str(sum(row)).rjust(10))
    print()

    benign_total = sum(1 for e in examples if e.label == BENIGN)
    figures: dict[str, dict[str, float]] = {}
    print("category        precision   recall      FPR   (n)")
    for category in CATEGORIES:
        labelled = [a for e, a in zip(examples, answers) if e.label == category]
        refused_as = [e.label for e, a in zip(examples, answers) if a == category]
        recall = sum(a != BENIGN for a in labelled) / len(labelled) if labelled else float("nan")
        precision = sum(label != BENIGN for label in refused_as) / len(refused_as) if refused_as else float("nan")
        fpr = sum(label == BENIGN for label in refused_as) / benign_total if benign_total else float("nan")
        figures[category] = {"precision": precision, "recall": recall, "fpr": fpr, "n": len(labelled)}
        print(f"{category:<14}{precision:>10.3f}{recall:>9.3f}{fpr:>9.3f}   ({len(labelled)})")
    must = [a for e, a in zip(examples, answers) if e.label != BENIGN]
    overall_recall = sum(a != BENIGN for a in must) / len(must) if must else float("nan")
    refused = [e.label for e, a in zip(examples, answers) if a != BENIGN]
    overall_precision = sum(label != BENIGN for label in refused) / len(refused) if refused else float("nan")
    overall_fpr = sum(label == BENIGN for label in refused) / benign_total if benign_total else float("nan")
    print(f"{'overall':<14}{overall_precision:>10.3f}{overall_recall:>9.3f}{overall_fpr:>9.3f}   ({len(must)} to refuse, {benign_total} benign)")
    category_right = sum(1 for e, a in zip(examples, answers) if e.label != BENIGN and a == e.label)
    print(f"refused under their own label: {category_right}/{len(must)}")

    ms = [t * 1000 for t in times]
    p50, p99 = percentile(ms, 0.50), percentile(ms, 0.99)
    print(f"\nlatency per prompt: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(ms):.2f} ms, mean {statistics.fmean(ms):.2f} ms ({len(ms)} calls)")
    if show_misses:
        print("\nwrong decisions:")
        print("\n".join(misses) or "(none)")
    return {"figures": figures, "recall": overall_recall, "fpr": overall_fpr, "p50_ms": p50, "p99_ms": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "train"])
    parser.add_argument("--file", type=Path, help="a JSONL file of {text, label} instead of a split")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per prompt")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--misses", action="store_true", help="list every wrong decision")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    examples = read_file(args.file) if args.file else split(args.split)
    run(examples, args.repeat, args.misses)


if __name__ == "__main__":
    main()
