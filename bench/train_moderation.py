"""Train the prompt classifier and write ``policy/data/moderation_model.json``.

    python -m bench.train_moderation          # writes the file
    python -m bench.train_moderation --check  # fails if the file differs from what training gives
    python -m bench.train_moderation --cv     # only the cross-validation figures (writes nothing)
    python -m bench.train_moderation --by-writer  # each writer left out in turn (writes nothing)
    python -m bench.train_moderation --hold-out w6,w7,w8,w9  # those writers left out together

Reads the train split of ``policy/data/moderation_prompts.jsonl`` only (the
test split is for ``bench/moderation.py``). Features
(``policy.moderation_model``): all-MiniLM-L6-v2 8-bit token vectors of
``policy.normalise.classifier_form`` of each prompt, mean- and max-pooled,
then TF-IDF blocks of character 2-5-grams and of words and word pairs (each
block's vocabulary: the n-grams in at least ``MIN_DF`` prompts of the data
it is fitted on). Model: a multinomial logistic regression (scikit-learn,
lbfgs, L2) over ``benign`` and the categories. Thresholds: from 5-fold
out-of-fold probabilities on the train split (vocabularies fitted inside
each fold), the lowest that keep the benign prompts refused by the whole
pipeline (rules, names, classifier) within ``FPR_BUDGET``. Deterministic:
fixed folds, no random initialisation, weights rounded.

``--by-writer`` asks how the recipe does on prompts by someone whose
prompts it has not read: for each writer of the set, it trains on the train
split less that writer's prompts (thresholds from that training's own
folds) and scores that writer's train-split prompts, so the test split
stays unread.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from core import minilm
from policy.categories import CATEGORIES
from policy.moderation_model import MAX_TOKENS, WEIGHTS_FILE, embed, embedding_input, terms, tfidf
from policy.moderation_set import BENIGN, Example, split
from policy.prompt import screen_prompt

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "policy" / "data" / WEIGHTS_FILE

# real people are the names list's and the rules' (a name says nothing the embedding can judge; as a class,
# it taught the classifier that any name is a reason to refuse): the classifier leaves them out
CLASSES = [BENIGN, *(c for c in CATEGORIES if c != "real_person")]
C = 4.0  # inverse L2 strength (cross-validated on the train split: 2, 4, 8 and 16 within 0.1 point, 4 best)
FOLDS = 5
KINDS = ("char", "word")
MIN_DF = 2
DECIMALS = 5
# the share of the train split's benign prompts that the whole pipeline (rules, names and the
# classifier at these thresholds) may refuse, out of fold; the goal on the test split is 3%
FPR_BUDGET = {"default": 0.025, "strict": 0.045}
MINORS_BUDGET = {"default": 0.003, "strict": 0.006}  # benign prompts that the minors threshold alone may refuse


class Vocabulary:
    """One n-gram block's columns and idf, fitted on some prompts."""

    def __init__(self, kind: str, term_lists: list[list[str]]):
        df = Counter(t for found in term_lists for t in set(found))
        self.kind = kind
        self.terms = sorted(t for t, n in df.items() if n >= MIN_DF)
        self.index = {t: i for i, t in enumerate(self.terms)}
        total = len(term_lists)
        self.idf = np.array([math.log((1 + total) / (1 + df[t])) + 1.0 for t in self.terms])

    def matrix(self, term_lists: list[list[str]]):
        from scipy import sparse

        rows, cols, vals = [], [], []
        for r, found in enumerate(term_lists):
            c, v = tfidf(found, self.index, self.idf)
            rows.extend([r] * len(c))
            cols.extend(c.tolist())
            vals.extend(v.tolist())
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(term_lists), len(self.terms)))


def design(x: np.ndarray, term_lists: dict[str, list[list[str]]], rows: np.ndarray, vocabularies: list[Vocabulary]):
    from scipy import sparse

    blocks = [sparse.csr_matrix(x[rows])]
    blocks.extend(v.matrix([term_lists[v.kind][i] for i in rows]) for v in vocabularies)
    return sparse.hstack(blocks).tocsr()


def fit(features, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=5000, tol=1e-6, class_weight="balanced")
    model.fit(features, y)
    return model


def out_of_fold(x: np.ndarray, term_lists: dict[str, list[list[str]]], y: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros((len(y), len(CLASSES)))
    for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
        vocabularies = [Vocabulary(kind, [term_lists[kind][i] for i in train]) for kind in KINDS]
        model = fit(design(x, term_lists, train, vocabularies), y[train])
        probs[np.ix_(held, model.classes_)] = model.predict_proba(design(x, term_lists, held, vocabularies))
    return probs


def lowest_threshold(scores: np.ndarray, already: np.ndarray, budget: float) -> float:
    """The lowest threshold at which the benign prompts refused (those ``already``
    refused, plus those whose score reaches it) stay within ``budget``."""
    allowed = int(np.floor(budget * len(scores)))
    for t in np.round(np.arange(0.02, 1.0, 0.005), 4):
        if (already | (scores >= t)).sum() <= allowed:
            return float(t)
    return 0.999


def screened(examples: list[Example]) -> np.ndarray:
    """Which examples the rules or the names refuse (the classifier's thresholds only
    have to catch the rest)."""
    out = []
    for e in examples:
        s = screen_prompt(e.text)
        out.append(s.rule is not None or bool(s.figures))
    return np.array(out)


def thresholds(probs: np.ndarray, y: np.ndarray, caught: np.ndarray) -> dict[str, dict[str, float]]:
    benign = y == 0
    minors = CLASSES.index("minors")
    out: dict[str, dict[str, float]] = {}
    for mode in FPR_BUDGET:
        t_minors = lowest_threshold(probs[benign, minors], np.zeros(benign.sum(), dtype=bool), MINORS_BUDGET[mode])
        already = caught[benign] | (probs[benign, minors] >= t_minors)
        t_any = lowest_threshold(1.0 - probs[benign, 0], already, FPR_BUDGET[mode])
        out[mode] = {"any": t_any, "minors": t_minors}
    return out


def report(probs: np.ndarray, y: np.ndarray, caught: np.ndarray, limits: dict[str, dict[str, float]]) -> None:
    for mode, table in limits.items():
        refused = refused_at(probs, caught, table)
        print(f"out of fold, {mode} {table}: benign refused {refused[y == 0].mean():.3f}; "
              f"must-refuse refused {refused[y != 0].mean():.3f}; per category:", end="")
        for k, category in enumerate(CLASSES[1:], start=1):
            print(f" {category} {refused[y == k].mean():.3f}", end="")
        print()


def embedder() -> str:
    """What made a cache's features: MiniLM's ONNX build, how it is pooled, the token limit."""
    return f"minilm {minilm.build_key()}, onnxruntime and numpy mean+max pooling, {MAX_TOKENS} tokens"


def features(examples: list[Example], cache: Path | None) -> np.ndarray:
    """The embedding features, kept in ``cache`` between runs when given. Keyed by
    what MiniLM reads of each prompt (``embedding_input``), not by the prompt, so a
    change to the classifier's form of a prompt (such as "nude" read as a colour)
    embeds it again; a cache made by another embedder (``embedder``: another build
    of MiniLM, another pooling, another token limit) is not read."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache) as saved:
            if "embedder" in saved and str(saved["embedder"]) == embedder():
                known = dict(zip(saved["texts"].tolist(), saved["x"]))
    keys = [embedding_input(e.text) for e in examples]
    missing = {key: e.text for key, e in zip(keys, examples) if key not in known}  # key -> a prompt that reads so
    if missing:
        known.update(zip(missing, embed(list(missing.values()))))
        if cache is not None:
            texts = sorted(known)
            np.savez(cache, texts=np.array(texts), x=np.stack([known[t] for t in texts]), embedder=embedder())
    return np.stack([known[k] for k in keys])


def refused_at(probs: np.ndarray, caught: np.ndarray, table: dict[str, float]) -> np.ndarray:
    """Which prompts the whole pipeline refuses at one mode's thresholds."""
    return caught | (probs[:, CLASSES.index("minors")] >= table["minors"]) | (1.0 - probs[:, 0] >= table["any"])


def inputs(examples: list[Example], cache: Path | None):
    """The classifier's examples (``real_person`` left out), their embeddings, n-gram lists,
    class numbers, and which of them the rules or names refuse."""
    examples = [e for e in examples if e.label in CLASSES]
    x = features(examples, cache)
    term_lists = {kind: [terms(e.text, kind) for e in examples] for kind in KINDS}
    y = np.array([CLASSES.index(e.label) for e in examples])
    return examples, x, term_lists, y, screened(examples)


def by_writer(examples: list[Example], cache: Path | None = None, groups: list[list[str]] | None = None) -> None:
    """Each writer (or each group of writers in ``groups``) left out of training in
    turn, scored on their own prompts."""
    examples, x, term_lists, y, caught = inputs(examples, cache)
    writers = np.array([e.writer for e in examples])
    for group in groups or [[w] for w in sorted(set(writers))]:
        writer = ",".join(group)
        fitted, held = np.flatnonzero(~np.isin(writers, group)), np.flatnonzero(np.isin(writers, group))
        lists = {kind: [found[i] for i in fitted] for kind, found in term_lists.items()}
        limits = thresholds(out_of_fold(x[fitted], lists, y[fitted]), y[fitted], caught[fitted])
        vocabularies = [Vocabulary(kind, lists[kind]) for kind in KINDS]
        model = fit(design(x, term_lists, fitted, vocabularies), y[fitted])
        probs = np.zeros((len(held), len(CLASSES)))
        probs[:, model.classes_] = model.predict_proba(design(x, term_lists, held, vocabularies))
        refused, labels = refused_at(probs, caught[held], limits["default"]), y[held]
        per = " ".join(f"{c} {refused[labels == k].mean():.3f}" for k, c in enumerate(CLASSES[1:], start=1) if (labels == k).any())
        print(f"writer {writer or '-'} left out ({len(held)} prompts; trained on {len(fitted)}): "
              f"must-refuse refused {refused[labels != 0].mean():.3f} of {(labels != 0).sum()}, "
              f"benign refused {refused[labels == 0].mean():.3f} of {(labels == 0).sum()}; {per}", flush=True)


def train(
    examples: list[Example], cache: Path | None = None, cv_only: bool = False, show_misses: bool = False
) -> dict | None:
    examples, x, term_lists, y, caught = inputs(examples, cache)
    probs = out_of_fold(x, term_lists, y)
    limits = thresholds(probs, y, caught)
    report(probs, y, caught, limits)
    if show_misses:
        refused = refused_at(probs, caught, limits["default"])
        for e, k, r, p in zip(examples, y, refused, probs):
            if r != (k != 0):
                print(f"  miss {e.label:>10} p(benign)={p[0]:.3f} {e.text}")
    if cv_only:
        return None
    everything = np.arange(len(y))
    vocabularies = [Vocabulary(kind, term_lists[kind]) for kind in KINDS]
    model = fit(design(x, term_lists, everything, vocabularies), y)
    order = [list(model.classes_).index(k) for k in range(len(CLASSES))]
    return {
        "embedding": "all-MiniLM-L6-v2, ONNX Runtime u8 copy, mean- and max-pooled, each L2-normalised (core.minilm)",
        "classes": CLASSES,
        "coef": [[round(float(v), DECIMALS) for v in model.coef_[i]] for i in order],
        "intercept": [round(float(model.intercept_[i]), DECIMALS) for i in order],
        "thresholds": limits,
        "train_examples": len(examples),
        "ngrams": [
            {"kind": v.kind, "vocabulary": v.terms, "idf": [round(float(i), DECIMALS) for i in v.idf]} for v in vocabularies
        ],
        "notes": f"multinomial logistic regression, C={C}, balanced class weights, on the embedding and TF-IDF of "
        f"character 2-5-grams and word 1-2-grams (min df {MIN_DF}); thresholds from {FOLDS}-fold "
        f"out-of-fold probabilities on the train split, the lowest within benign budgets {json.dumps(FPR_BUDGET)} "
        f"(minors alone {json.dumps(MINORS_BUDGET)}) with the rules and names",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing it")
    parser.add_argument("--cv", action="store_true", help="print the cross-validation figures only")
    parser.add_argument("--misses", action="store_true", help="list the out-of-fold wrong decisions")
    parser.add_argument("--by-writer", action="store_true", help="leave each writer out of training in turn (writes nothing)")
    parser.add_argument("--hold-out", metavar="W1,W2", action="append", default=[],
                        help="leave these writers out together and score their prompts (repeatable; writes nothing)")
    parser.add_argument("--cache", type=Path, help="keep the embeddings in this .npz between runs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as the api scores one prompt (and float sums in one order)
    if args.by_writer or args.hold_out:
        by_writer(split("train"), args.cache, [group.split(",") for group in args.hold_out] or None)
        return
    weights = train(split("train"), args.cache, cv_only=args.cv, show_misses=args.misses)
    if weights is None:
        return
    text = json.dumps(weights, separators=(",", ":")) + "\n"
    if args.check:
        same = OUT.read_text() == text
        print("the committed weights are what training gives" if same else "the committed weights differ")
        sys.exit(0 if same else 1)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text) // 1024} KiB)")


if __name__ == "__main__":
    main()
