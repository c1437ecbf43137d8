"""Building the ONNX copies of all-MiniLM-L6-v2 that ``core.minilm`` serves.

The shipped weights are read with ``transformers``, traced by
``torch.onnx.export`` into ``float.onnx`` (the model as shipped: the feed's
post embeddings), and quantised by ``onnxruntime.quantization`` into
``int8.onnx`` (prompt moderation): matrix weights and activations on 8 bits,
both unsigned (u8·u8). Signed weights run twice as fast on CPUs with VNNI,
but elsewhere their kernels can saturate, so the same prompt would score
differently from one host to another (``python -m bench.moderation
--runtimes`` compares the choices; docs/SAFETY.md has the figures).

Torch is imported here and nowhere on the serving path: ``core.minilm``
runs this module in a process of its own (``python -m core.minilm_build
DIR``) when its cache lacks the files, so an api that moderates prompts
never holds torch (about 500 MiB resident: +630 MiB with the model
loaded and exported in the process, against +131 MiB served;
``bench.moderation --memory``). The export and the quantisation are
deterministic: the same model and libraries give the same bytes."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

from core.minilm import FILES, ONNX_INPUTS, model_dir, session

ONNX_OPSET = 17


def load_float() -> tuple[Any, Any]:
    """(tokenizer, model) as shipped, read with ``transformers`` (torch)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no progress bars in a process's log
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
    line per tensor and per skipped node at INFO, and a warning to run its
    pre-processing first, which fails on this model (incomplete symbolic
    shapes; the quantised model serves as it is). Other warnings and errors
    pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "onnxruntime" not in record.pathname:
            return True
        return record.levelno >= logging.WARNING and "pre-processing before quantization" not in record.getMessage()


def export_float(out: Path) -> None:
    """Trace the shipped model into ``out`` (ONNX, float32). The exporter
    traces a model of its own: it leaves the module it traced altered."""
    import torch

    tokenizer, model = load_float()
    example = tokenizer(["a short example prompt"], return_tensors="pt")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings
        torch.onnx.export(
            _traced(model), tuple(example[name] for name in ONNX_INPUTS), str(out),
            input_names=list(ONNX_INPUTS), output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")},
            opset_version=ONNX_OPSET, dynamo=False,
        )


def quantise(float_file: Path, out: Path, weights: Literal["uint8", "int8"] = "uint8", reduce_range: bool = False) -> None:
    """The 8-bit copy of ``float_file`` (dynamic quantisation) into ``out``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _QuantiserChatter()
    logging.getLogger().addFilter(quiet)
    try:
        weight_type = QuantType.QUInt8 if weights == "uint8" else QuantType.QInt8
        quantize_dynamic(str(float_file), str(out), weight_type=weight_type, reduce_range=reduce_range)
    finally:
        logging.getLogger().removeFilter(quiet)


def build(folder: Path) -> None:
    """Write ``FILES`` (float.onnx, int8.onnx) into ``folder``, each by an atomic
    rename, so a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minilm-", dir=folder) as tmp:
        exported, quantised = Path(tmp) / FILES["float"], Path(tmp) / FILES["int8"]
        export_float(exported)
        quantise(exported, quantised)
        os.replace(quantised, folder / FILES["int8"])
        os.replace(exported, folder / FILES["float"])


def int8_variant(weights: Literal["uint8", "int8"], reduce_range: bool = False) -> Any:
    """An ONNX Runtime session of an 8-bit copy quantised with other options,
    built in a temporary folder (``bench.moderation --runtimes``)."""
    with tempfile.TemporaryDirectory(prefix="minilm-") as tmp:
        exported, quantised = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        export_float(exported)
        quantise(exported, quantised, weights, reduce_range)
        return session(quantised)


def main() -> None:
    parser = argparse.ArgumentParser(description="build the ONNX copies of all-MiniLM-L6-v2 into a folder")
    parser.add_argument("folder", type=Path)
    build(parser.parse_args().folder)


if __name__ == "__main__":
    main()
