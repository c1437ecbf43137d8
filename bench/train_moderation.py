"""Train the prompt classifier and write ``policy/data/moderation_model.json``.

    python -m bench.train_moderation          # writes the file
    python -m bench.train_moderation --check  # fails if the file differs from what training gives

Reads the train split of ``policy/data/moderation_prompts.jsonl`` only (the
test split is for ``bench/moderation.py``). Features: all-MiniLM-L6-v2 int8
token vectors of ``policy.normalise.classifier_form`` of each prompt, mean-
and max-pooled (``policy.moderation_model.embed``). Model: a multinomial
logistic regression (scikit-learn, lbfgs, L2) over ``benign`` and the
categories. Thresholds: from 5-fold out-of-fold probabilities on the train
split, the lowest that keep the benign prompts refused by the whole pipeline
(rules, names, classifier) within ``FPR_BUDGET``. Deterministic: fixed
folds, no random initialisation, weights rounded to 6 decimals.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from policy.categories import CATEGORIES
from policy.moderation_model import WEIGHTS_FILE, embed
from policy.moderation_set import BENIGN, Example, split
from policy.prompt import screen_prompt

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "policy" / "data" / WEIGHTS_FILE

# real people are the names list's and the rules' (a name says nothing the embedding can judge; as a class,
# it taught the classifier that any name is a reason to refuse): the classifier leaves them out
CLASSES = [BENIGN, *(c for c in CATEGORIES if c != "real_person")]
C = 16.0  # inverse L2 strength
FOLDS = 5
# the share of the train split's benign prompts that the whole pipeline (rules, names and the
# classifier at these thresholds) may refuse, out of fold; the goal on the test split is 3%
FPR_BUDGET = {"default": 0.02, "strict": 0.04}
MINORS_BUDGET = {"default": 0.003, "strict": 0.006}  # benign prompts that the minors threshold alone may refuse


def fit(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=5000, tol=1e-8, class_weight="balanced")
    model.fit(x, y)
    return model


def out_of_fold(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros((len(y), len(CLASSES)))
    for train, held in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
        model = fit(x[train], y[train])
        probs[np.ix_(held, model.classes_)] = model.predict_proba(x[held])
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
        refused = caught | (probs[:, CLASSES.index("minors")] >= table["minors"]) | (1.0 - probs[:, 0] >= table["any"])
        print(f"out of fold, {mode} {table}: benign refused {refused[y == 0].mean():.3f}; refused:", end="")
        for k, category in enumerate(CLASSES[1:], start=1):
            print(f" {category} {refused[y == k].mean():.2f}", end="")
        print()


def features(examples: list[Example], cache: Path | None) -> np.ndarray:
    """The classifier's features, kept in ``cache`` (by text) between runs when given."""
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache) as saved:
            known = dict(zip(saved["texts"].tolist(), saved["x"]))
    missing = [e.text for e in examples if e.text not in known]
    if missing:
        known.update(zip(missing, embed(missing)))
        if cache is not None:
            texts = sorted(known)
            np.savez(cache, texts=np.array(texts), x=np.stack([known[t] for t in texts]))
    return np.stack([known[e.text] for e in examples])


def train(examples: list[Example], cache: Path | None = None) -> dict:
    examples = [e for e in examples if e.label in CLASSES]
    x = features(examples, cache)
    y = np.array([CLASSES.index(e.label) for e in examples])
    probs = out_of_fold(x, y)
    caught = screened(examples)
    limits = thresholds(probs, y, caught)
    report(probs, y, caught, limits)
    model = fit(x, y)
    order = [list(model.classes_).index(k) for k in range(len(CLASSES))]
    return {
        "embedding": "all-MiniLM-L6-v2 int8 mean-pooled, L2-normalised (core.minilm)",
        "classes": CLASSES,
        "coef": [[round(float(v), 6) for v in model.coef_[i]] for i in order],
        "intercept": [round(float(model.intercept_[i]), 6) for i in order],
        "thresholds": limits,
        "train_examples": len(examples),
        "notes": f"multinomial logistic regression, C={C}, balanced class weights; thresholds from {FOLDS}-fold "
        f"out-of-fold probabilities on the train split, the lowest within benign budgets {json.dumps(FPR_BUDGET)} "
        f"(minors alone {json.dumps(MINORS_BUDGET)}) with the rules and names",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing it")
    parser.add_argument("--cache", type=Path, help="keep the embeddings in this .npz between runs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as the api scores one prompt (and float sums in one order)
    weights = train(split("train"), args.cache)
    text = json.dumps(weights, separators=(",", ":")) + "\n"
    if args.check:
        same = OUT.read_text() == text
        print("the committed weights are what training gives" if same else "the committed weights differ")
        sys.exit(0 if same else 1)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text) // 1024} KiB)")


if __name__ == "__main__":
    main()
