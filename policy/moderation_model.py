"""The learned layer of prompt moderation: a multinomial logistic regression
over ``benign`` and the categories of ``policy.categories`` (but
``real_person``), on two kinds of features of the prompt:

- all-MiniLM-L6-v2 token vectors (``core.minilm``, the 8-bit copy), mean- and
  max-pooled (768 features): what the prompt is about, in any wording;
- TF-IDF of character n-grams (2 to 5 letters, inside words) and of words and
  word pairs of ``policy.normalise.normalise``'s form of the prompt (sublinear
  counts, each block L2-normalised): the telling words and their misspellings,
  which the pooled embedding blurs.

Its weights, vocabularies and thresholds are in
``policy/data/moderation_model.json``, written by
``bench/train_moderation.py`` from the train split of
``policy/data/moderation_prompts.jsonl`` (deterministic: the same data,
model and libraries give the same file). Thresholds come from out-of-fold
probabilities on the train split, never from the test split. The n-gram
features are computed here, by the same code in training and serving.

A prompt is refused when the probability that it is not benign reaches a
threshold (``any``), under its most probable category, or when the
probability of ``minors`` reaches a lower threshold of its own. Two sets of
thresholds: ``default``, and ``strict`` (lower) for a prompt that puts a
cameo or a real person on screen, where a likeness raises the stakes.

Loaded once per process, on first use (a fraction of a second once the
machine has MiniLM's ONNX files, ``core.minilm``); ``load`` does it ahead of time."""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import cache

import msgspec
import numpy as np

from core import minilm
from core.package_files import read_text
from policy.normalise import classifier_form, normalise, word_senses

WEIGHTS_FILE = "moderation_model.json"
MAX_TOKENS = 128  # prompts are short; longer ones are cut for the classifier (the rules read all of it)
EMBEDDING_DIM = 2 * minilm.DIM  # mean and max pooled
CHAR_SIZES = (2, 3, 4, 5)
WORD_SIZES = (1, 2)
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


class NgramBlock(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # "char" | "word"
    vocabulary: list[str]  # the n-grams, in column order
    idf: list[float]  # one per n-gram


class Weights(msgspec.Struct, frozen=True, kw_only=True):
    embedding: str  # what the dense features are
    classes: list[str]  # "benign" first, then categories
    coef: list[list[float]]  # one row per class: the embedding's columns, then each n-gram block's
    intercept: list[float]
    thresholds: dict[str, dict[str, float]]  # "default" | "strict" -> "any" | "minors" -> threshold
    train_examples: int
    ngrams: list[NgramBlock] = []
    notes: str = ""


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of each word padded with a space on both sides (a word
    shorter than an n-gram counts once, whole)."""
    out: list[str] = []
    for word in text.split():
        padded = f" {word} "
        for n in CHAR_SIZES:
            if len(padded) <= n:
                out.append(padded)
                break
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def word_ngrams(text: str) -> list[str]:
    """Words and pairs of neighbouring words."""
    words = _WORD.findall(text)
    out: list[str] = []
    for n in WORD_SIZES:
        out.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return out


def ngram_form(prompt: str) -> str:
    """The text the n-grams are read from."""
    return word_senses(_SPACES.sub(" ", normalise(prompt)).strip())


def terms(prompt: str, kind: str) -> list[str]:
    form = ngram_form(prompt)
    return char_ngrams(form) if kind == "char" else word_ngrams(form)


def tfidf(found: list[str], index: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of one prompt's TF-IDF row for a block: 1 + log(count)
    times the n-gram's idf, L2-normalised; n-grams outside the vocabulary are
    dropped."""
    counts = Counter(t for t in found if t in index)
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    columns = np.fromiter((index[t] for t in counts), dtype=np.int64, count=len(counts))
    values = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts)) * idf[columns]
    return columns, values / np.linalg.norm(values)


class Model:
    """The weights as the scoring needs them: numpy arrays and the n-gram
    indexes. The decoded file is not kept (its 700,000 coefficients as Python
    floats would hold about 25 MB in every process that moderates)."""

    def __init__(self, weights: Weights):
        self.classes = weights.classes
        self.limits = weights.thresholds
        coef = np.asarray(weights.coef, dtype=np.float64)
        self.intercept = np.asarray(weights.intercept, dtype=np.float64)
        self.dense = coef[:, :EMBEDDING_DIM]
        self.blocks: list[tuple[str, dict[str, int], np.ndarray, np.ndarray]] = []
        start = EMBEDDING_DIM
        for block in weights.ngrams:
            end = start + len(block.vocabulary)
            index = {t: i for i, t in enumerate(block.vocabulary)}
            self.blocks.append((block.kind, index, np.asarray(block.idf, dtype=np.float64), coef[:, start:end]))
            start = end
        if start != coef.shape[1]:
            raise ValueError(f"{WEIGHTS_FILE}: {coef.shape[1]} columns, the features give {start}")

    def logits(self, embedding: np.ndarray, prompt: str) -> np.ndarray:
        logits = self.dense @ embedding + self.intercept
        for kind, index, idf, coef in self.blocks:
            columns, values = tfidf(terms(prompt, kind), index, idf)
            if len(columns):
                logits = logits + coef[:, columns] @ values
        return logits

    def probabilities(self, embedding: np.ndarray, prompt: str = "") -> dict[str, float]:
        logits = self.logits(embedding, prompt)
        logits -= logits.max()
        exp = np.exp(logits)
        probs = exp / exp.sum()
        return {c: float(p) for c, p in zip(self.classes, probs)}

    def thresholds(self, strict: bool) -> dict[str, float]:
        return self.limits["strict" if strict else "default"]


def read_weights() -> Weights:
    """The weights file as written by ``bench/train_moderation.py`` (read anew on each call)."""
    return msgspec.json.decode(read_text("policy.data", WEIGHTS_FILE), type=Weights)


@cache
def model() -> Model:
    return Model(read_weights())


def embedding_input(prompt: str) -> str:
    """The text MiniLM reads of ``prompt`` (what its dense features depend on)."""
    return classifier_form(prompt) or "."


def embed(prompts: list[str]) -> np.ndarray:
    """The classifier's dense features for ``prompts`` (one row each), each prompt
    embedded on its own: the 8-bit copy quantises its inputs per call, so a
    batch would give features a little different from a single prompt's, which
    is what the api scores (training reads the same features as serving)."""
    texts = [embedding_input(p) for p in prompts]
    rows = [minilm.embed([t], "int8", max_tokens=MAX_TOKENS, pooling="mean+max")[0] for t in texts]
    return np.asarray(rows, dtype=np.float64).reshape(len(texts), -1)


def probabilities(prompt: str) -> dict[str, float]:
    """Class -> probability for one prompt (the classes sum to one)."""
    return model().probabilities(embed([prompt])[0], prompt)


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
    probabilities("warm up")
