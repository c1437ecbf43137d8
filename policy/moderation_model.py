"""The learned layer of prompt moderation: all-MiniLM-L6-v2 token vectors
(``core.minilm``, the int8 copy), mean- and max-pooled (768 features), under
a multinomial logistic
regression over ``benign`` and the categories of ``policy.categories``.

Its weights and thresholds are in ``policy/data/moderation_model.json``,
written by ``bench/train_moderation.py`` from the train split of
``policy/data/moderation_prompts.jsonl`` (deterministic: the same data,
model and libraries give the same file). Thresholds come from out-of-fold
probabilities on the train split, never from the test split.

A prompt is refused when the probability that it is not benign reaches a
threshold (``any``), under its most probable category, or when the
probability of ``minors`` reaches a lower threshold of its own. Two sets of
thresholds: ``default``, and ``strict`` (lower) for a prompt that puts a
cameo or a real person on screen, where a likeness raises the stakes.

Loaded once per process, on first use (about two seconds: the model and its
quantisation); ``load`` does it ahead of time."""

from __future__ import annotations

from functools import cache

import msgspec
import numpy as np

from core import minilm
from core.package_files import read_text
from policy.normalise import classifier_form

WEIGHTS_FILE = "moderation_model.json"
MAX_TOKENS = 128  # prompts are short; longer ones are cut for the classifier (the rules read all of it)


class Weights(msgspec.Struct, frozen=True, kw_only=True):
    embedding: str  # what the features are, e.g. "all-MiniLM-L6-v2 int8 mean-pooled"
    classes: list[str]  # "benign" first, then categories
    coef: list[list[float]]  # one row per class, 384 columns
    intercept: list[float]
    thresholds: dict[str, dict[str, float]]  # "default" | "strict" -> "any" | "minors" -> threshold
    train_examples: int
    notes: str = ""


class Model:
    def __init__(self, weights: Weights):
        self.weights = weights
        self.classes = weights.classes
        self.coef = np.asarray(weights.coef, dtype=np.float64)
        self.intercept = np.asarray(weights.intercept, dtype=np.float64)

    def probabilities(self, embedding: np.ndarray) -> dict[str, float]:
        logits = self.coef @ embedding + self.intercept
        logits -= logits.max()
        exp = np.exp(logits)
        probs = exp / exp.sum()
        return {c: float(p) for c, p in zip(self.classes, probs)}

    def thresholds(self, strict: bool) -> dict[str, float]:
        return self.weights.thresholds["strict" if strict else "default"]


@cache
def model() -> Model:
    return Model(msgspec.json.decode(read_text("policy.data", WEIGHTS_FILE), type=Weights))


def embed(prompts: list[str]) -> np.ndarray:
    """The classifier's features for ``prompts`` (one row each), each prompt
    embedded on its own: the int8 layers quantise their inputs per call, so a
    batch would give features a little different from a single prompt's, which
    is what the api scores (training reads the same features as serving)."""
    texts = [classifier_form(p) or "." for p in prompts]
    rows = [minilm.embed([t], "int8", max_tokens=MAX_TOKENS, pooling="mean+max")[0] for t in texts]
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), -1)


def probabilities(prompt: str) -> dict[str, float]:
    """Class -> probability for one prompt (the classes sum to one)."""
    return model().probabilities(embed([prompt])[0])


def flagged(probs: dict[str, float], strict: bool) -> str | None:
    """The category the classifier refuses ``probs`` under, or None.

    Refused when the probability that the prompt is not benign reaches the
    ``any`` threshold (the category is then the most probable one), or when
    the probability of ``minors`` alone reaches its own, lower threshold
    (zero tolerance)."""
    limits = model().thresholds(strict)
    if probs.get("minors", 0.0) >= limits["minors"]:
        return "minors"
    if 1.0 - probs.get("benign", 0.0) >= limits["any"]:
        return max((c for c in probs if c != "benign"), key=lambda c: probs[c])
    return None


def load() -> None:
    """Load the weights and the embedding model now (at process start)."""
    model()
    embed(["warm up"])
