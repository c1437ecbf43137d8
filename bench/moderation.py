"""Prompt moderation on the labelled test split (or the train split, or the
set by writers the training never read): the confusion table,
per-category precision, recall and false-positive rate, and the latency of
one ``moderate_prompt`` call.

    python -m bench.moderation                 # the test split
    python -m bench.moderation --split train   # the train split (what the thresholds were fitted on)
    python -m bench.moderation --split unseen  # the set by writers the training never read
    python -m bench.moderation --file my.jsonl # another labelled set, same format
    python -m bench.moderation --misses        # also list every wrong decision
    python -m bench.moderation --runtimes      # MiniLM's forward pass in each runtime considered
    python -m bench.moderation --memory        # what loading the classifier costs a process

Definitions, per category C (rows of the table are the labels, columns what
the moderation answered):

- recall: the share of prompts labelled C that are refused (under any
  category: a refusal is what the goal asks for; the table shows which);
- precision: of the prompts refused under C, the share that must be refused;
- FPR: the share of benign prompts refused under C; "overall" counts a
  benign prompt refused under any category.

Latency: wall time of ``moderate_prompt`` per prompt, one prompt at a time,
after the models are loaded, ONNX Runtime on one thread (as the api runs it;
the process never imports torch). Each prompt is timed ``--repeat``
times.

``--runtimes`` times MiniLM's forward pass alone (one prompt at a time, in
turn across the runtimes so the machine's load falls on all alike) in torch
float32, torch's dynamic int8 quantisation (what moderation ran before), and
ONNX Runtime 8-bit copies (``core.minilm_build``): unsigned weights
(served), signed weights, and signed with a reduced range. It prints p50,
p99, the ratio of p50 to torch int8's, and how closely each copy's
mean-pooled vector follows float32's (cosine). A copy's decisions are the
classifier's, trained on its features: the weights file is trained for the
served copy only.
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

    by_writer(examples, answers)

    ms = [t * 1000 for t in times]
    p50, p99 = percentile(ms, 0.50), percentile(ms, 0.99)
    print(f"\nlatency per prompt: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(ms):.2f} ms, mean {statistics.fmean(ms):.2f} ms ({len(ms)} calls)")
    by_length(examples, ms, repeat)
    if show_misses:
        print("\nwrong decisions:")
        print("\n".join(misses) or "(none)")
    return {"figures": figures, "recall": overall_recall, "fpr": overall_fpr, "p50_ms": p50, "p99_ms": p99}


def by_writer(examples: list[Example], answers: list[str]) -> None:
    """Recall and benign refusals of each writer's prompts (the set names who wrote each one)."""
    writers = sorted({e.writer for e in examples}, key=lambda w: (len(w), w))
    if len(writers) < 2:
        return
    print("\nby writer:")
    for writer in writers:
        mine = [(e.label, a) for e, a in zip(examples, answers) if e.writer == writer]
        must = [a for label, a in mine if label != BENIGN]
        benign = [a for label, a in mine if label == BENIGN]
        recall = f"{sum(a != BENIGN for a in must) / len(must):.3f}" if must else "-"
        fpr = f"{sum(a != BENIGN for a in benign) / len(benign):.3f}" if benign else "-"
        print(f"  {writer or '-':<5} recall {recall} of {len(must):<4} benign refused {fpr} of {len(benign)}")


def by_length(examples: list[Example], ms: list[float], repeat: int) -> None:
    """Latency by the prompt's length in MiniLM tokens (a call's cost grows with them)."""
    from core import minilm
    from policy.moderation_model import MAX_TOKENS
    from policy.normalise import classifier_form

    bands = ((0, 32), (33, 64), (65, MAX_TOKENS), (MAX_TOKENS + 1, None))
    timed: dict[tuple[int, int | None], list[float]] = {band: [] for band in bands}
    for i, example in enumerate(examples):
        tokens = len(minilm.token_ids(classifier_form(example.text)))
        band = next(b for b in bands if tokens >= b[0] and (b[1] is None or tokens <= b[1]))
        timed[band].extend(ms[i * repeat : (i + 1) * repeat])
    for (low, high), values in timed.items():
        if values:
            name = f"{low}-{high} tokens" if high else f"over {low - 1} tokens (cut to {MAX_TOKENS})"
            print(f"  {name:<30} {len(values) // repeat:>5} prompts: p50 {percentile(values, 0.5):.2f} ms, p99 {percentile(values, 0.99):.2f} ms")


def compare_runtimes(texts: list[str], repeat: int) -> dict[str, dict[str, float]]:
    import numpy as np
    import torch
    from torch.ao.quantization import quantize_dynamic

    from core import minilm, minilm_build
    from policy.moderation_model import MAX_TOKENS

    tokenizer, float_model = minilm_build.load_float()
    runtimes = {"torch float32": float_model, "torch dynamic int8": quantize_dynamic(float_model, {torch.nn.Linear}, dtype=torch.qint8)}
    runtimes["onnxruntime u8 weights (served)"] = minilm.load("int8")[1]
    for name, weights, reduce in (("onnxruntime s8 weights", "int8", False), ("onnxruntime s8, reduced range", "int8", True)):
        runtimes[name] = minilm_build.int8_variant(weights, reduce_range=reduce)

    def forward(model, batch) -> np.ndarray:
        if isinstance(model, torch.nn.Module):
            return model(**batch).last_hidden_state.numpy()
        return model.run(None, {name: batch[name].numpy() for name in minilm.ONNX_INPUTS})[0]

    times: dict[str, list[float]] = {name: [] for name in runtimes}
    agreement: dict[str, list[float]] = {name: [] for name in runtimes}
    with torch.inference_mode():
        for text in texts:
            batch = tokenizer([text], truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            pooled = {}
            for _ in range(repeat):
                for name, model in runtimes.items():
                    start = time.perf_counter()
                    hidden = forward(model, batch)
                    times[name].append((time.perf_counter() - start) * 1000)
                    pooled[name] = hidden[0].mean(axis=0)
            reference = pooled["torch float32"]
            for name, vec in pooled.items():
                agreement[name].append(float(vec @ reference / (np.linalg.norm(vec) * np.linalg.norm(reference))))
    baseline = percentile(times["torch dynamic int8"], 0.5)
    print(f"MiniLM forward pass, one prompt at a time ({len(texts)} prompts x {repeat}):")
    print(f"{'runtime':<34}{'p50 ms':>8}{'p99 ms':>8}{'p50 / torch int8':>18}{'cosine to float32 (mean, min)':>32}")
    out = {}
    for name in runtimes:
        p50, p99 = percentile(times[name], 0.5), percentile(times[name], 0.99)
        cos = agreement[name]
        out[name] = {"p50_ms": p50, "p99_ms": p99, "cos_mean": statistics.fmean(cos), "cos_min": min(cos)}
        print(f"{name:<34}{p50:>8.2f}{p99:>8.2f}{p50 / baseline:>17.2f}x{statistics.fmean(cos):>20.4f}, {min(cos):.4f}")
    return out


# Each loads the classifier in a fresh process and prints its RSS growth (MiB),
# the seconds it took, and whether torch was imported. "served" is what the api
# does; "in process, with torch" is what it did before core.minilm_build: load
# the shipped model with transformers, export and quantise it in memory, pool
# with torch (a copy of the file it reads, so neither process builds a file).
LOADERS = {
    "served (ONNX files, numpy pooling)": """
from policy import moderation_model
moderation_model.load()
""",
    "in process, with torch (before)": """
import torch
from transformers import AutoTokenizer
from core import minilm, minilm_build
from policy import moderation_model
session = minilm_build.int8_variant("uint8")  # loads the shipped model, exports, quantises; the model is let go
tokenizer = AutoTokenizer.from_pretrained(str(minilm.model_dir()), local_files_only=True)
moderation_model.model()
batch = tokenizer(["warm up"], return_tensors="pt")
hidden = torch.from_numpy(session.run(None, {name: batch[name].numpy() for name in ("input_ids", "attention_mask", "token_type_ids")})[0])
torch.nn.functional.normalize(hidden.mean(1), dim=1)
""",
}
PROBE = """
import sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
import numpy
before, start = rss(), time.perf_counter()
{body}
import ctypes
ctypes.CDLL("libc.so.6").malloc_trim(0)
print(rss() - before, time.perf_counter() - start, "torch" in sys.modules)
"""


def compare_loading(rounds: int = 3) -> None:
    """Fresh processes load the classifier each way, in turn, ``rounds`` times."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    got: dict[str, list[tuple[float, float, str]]] = {name: [] for name in LOADERS}
    for _ in range(rounds):
        for name, body in LOADERS.items():
            done = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=root, capture_output=True, text=True, check=True)
            mib, seconds, torch = done.stdout.split()
            got[name].append((float(mib), float(seconds), torch))
    print(f"loading the prompt classifier in a fresh process ({rounds} rounds, median; RSS growth after malloc_trim):")
    served = statistics.median(m for m, _, _ in got[next(iter(LOADERS))])
    for name, runs in got.items():
        mib, seconds = statistics.median(m for m, _, _ in runs), statistics.median(s for _, s, _ in runs)
        print(f"  {name:<38} RSS +{mib:7.1f} MiB ({mib / served:4.2f}x served)  {seconds:6.2f} s  torch imported: {runs[0][2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "train", "unseen"])
    parser.add_argument("--file", type=Path, help="a JSONL file of {text, label} instead of a split")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per prompt")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (--runtimes)")
    parser.add_argument("--misses", action="store_true", help="list every wrong decision")
    parser.add_argument("--runtimes", action="store_true", help="time MiniLM's forward pass in each runtime considered (no decisions)")
    parser.add_argument("--memory", action="store_true", help="a fresh process's memory and time to load the classifier, served and as before")
    args = parser.parse_args()
    if args.memory:
        compare_loading()
        return
    examples = read_file(args.file) if args.file else split(args.split)
    if args.runtimes:
        from policy.normalise import classifier_form

        import torch

        torch.set_num_threads(args.threads)
        compare_runtimes([classifier_form(e.text) or "." for e in examples], args.repeat)
        return
    run(examples, args.repeat, args.misses)


if __name__ == "__main__":
    main()
