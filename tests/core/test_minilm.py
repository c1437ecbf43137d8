"""The two copies of all-MiniLM-L6-v2 (``core.minilm``), loaded from the
package that ships the model: the float one (the feed's post embeddings) and
the 8-bit one (prompt moderation), both ONNX files that ``core.minilm_build``
exports and quantises from the shipped weights, in a process of its own, once
per cache folder. Serving them needs no torch."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from core import minilm, minilm_build

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "a cat surfing a wave at sunset",
    "a chef slicing chicken breast in a busy kitchen",
    "time-lapse of clouds rolling over a mountain range",
    "two boxers trading punches in the last round",
]
# what a process prints: whether it imported torch, one vector of each copy, the folder it read
PROBE = """
import json, sys
from core import minilm
floats = minilm.embed(["a cat surfing a wave at sunset"], "float")[0]
int8 = minilm.embed(["a cat surfing a wave at sunset"], "int8", max_tokens=128, pooling="mean+max")[0]
print(json.dumps({"torch": "torch" in sys.modules, "float": floats, "int8": int8, "folder": str(minilm.onnx_folder())}))
"""


def probe(cache: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, "FABULA_MINILM_CACHE": str(cache)},
        capture_output=True, text=True, timeout=300, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_int8_copy_says_what_the_float_model_says():
    floats = np.asarray(minilm.embed(TEXTS, "float"))
    int8 = np.asarray(minilm.embed(TEXTS, "int8"))
    assert int8.shape == floats.shape == (len(TEXTS), minilm.DIM)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(floats, axis=1), 1.0, atol=1e-5)
    agreement = (int8 * floats).sum(axis=1)
    assert agreement.min() > 0.93, agreement  # int8 weights move each vector a little ...
    # ... and keep which texts are alike: each text is nearest its own float vector
    assert list((int8 @ floats.T).argmax(axis=1)) == list(range(len(TEXTS)))
    assert agreement.max() < 0.9999  # quantised: not the float model under another name


def test_the_float_copy_is_the_shipped_model():
    """The ONNX float copy gives what the shipped model gives under torch (what
    sentence-transformers computes: mean pooling, L2 normalisation)."""
    import torch

    tokenizer, model = minilm_build.load_float()
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=minilm.MAX_TOKENS, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    np.testing.assert_allclose(np.asarray(minilm.embed(TEXTS, "float")), expected, atol=1e-5)


def test_the_tokenizer_reads_what_transformers_reads():
    """The package's fast tokenizer, as ``core.minilm`` sets it, gives the ids
    that ``transformers`` gives, cut at the same length."""
    tokenizer, _ = minilm_build.load_float()
    texts = [*TEXTS, "ÜBER-cool  ｆｕｌｌｗｉｄｔｈ café 🎬 don't", "word " * 300, ""]
    for cut in (8, 128, minilm.MAX_TOKENS):
        expected = [tokenizer(t, truncation=True, max_length=cut)["input_ids"] for t in texts]
        assert [minilm.token_ids(t, cut) for t in texts] == expected
    minilm.embed(TEXTS, "int8", max_tokens=8)  # a cut left on the tokenizer by a call ...
    assert len(minilm.token_ids("word " * 300)) == 302  # ... is not kept: every word and the two markers


def test_a_prompt_alone_and_in_a_batch_pool_the_same_tokens():
    """Mean and max pooling skip the padding a batch adds."""
    alone = [minilm.embed([t], "int8", pooling="mean+max")[0] for t in TEXTS]
    batched = minilm.embed(TEXTS, "int8", pooling="mean+max")
    assert len(alone[0]) == 2 * minilm.DIM
    np.testing.assert_allclose(np.asarray(batched), np.asarray(alone), atol=0.05)
    floats_alone = [minilm.embed([t], "float")[0] for t in TEXTS]
    np.testing.assert_allclose(np.asarray(minilm.embed(TEXTS, "float")), np.asarray(floats_alone), atol=1e-5)


def test_a_process_builds_the_copies_once_and_never_imports_torch(tmp_path):
    first = probe(tmp_path)
    folder = Path(first["folder"])
    assert folder.parent == tmp_path
    built = {name: (folder / name).stat().st_mtime_ns for name in minilm.FILES.values()}
    second = probe(tmp_path)
    assert {name: (folder / name).stat().st_mtime_ns for name in minilm.FILES.values()} == built  # not built again
    assert first["torch"] is False and second["torch"] is False
    assert first["float"] == second["float"] and first["int8"] == second["int8"]
    # the same bytes as the copies this process serves: the build is deterministic
    for name in minilm.FILES.values():
        assert (folder / name).read_bytes() == (minilm.onnx_folder() / name).read_bytes()
    np.testing.assert_allclose(first["int8"], minilm.embed([TEXTS[0]], "int8", max_tokens=128, pooling="mean+max")[0], atol=0)


def test_a_damaged_copy_is_built_again(tmp_path):
    folder = tmp_path / minilm.build_key()
    shutil.copytree(minilm.onnx_folder(), folder, ignore=shutil.ignore_patterns(".lock"))
    (folder / minilm.FILES["int8"]).write_bytes(b"not an onnx model")
    out = probe(tmp_path)
    assert (folder / minilm.FILES["int8"]).read_bytes() == (minilm.onnx_folder() / minilm.FILES["int8"]).read_bytes()
    assert len(out["int8"]) == 2 * minilm.DIM


def test_building_the_copies_leaves_the_log_quiet(caplog, tmp_path):
    # the quantiser logs a line per tensor on the root logger
    with caplog.at_level(logging.INFO):
        minilm_build.build(tmp_path)
    assert not [r for r in caplog.records if "onnxruntime" in r.pathname]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(minilm.FILES.values())  # no temporary folder left



def test_a_cache_folder_that_cannot_be_made_falls_back_to_a_temporary_one(tmp_path, monkeypatch):
    served = minilm.onnx_folder()
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setenv("FABULA_MINILM_CACHE", str(blocked / "minilm"))
    monkeypatch.setattr(minilm.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    fallback = tmp_path / "tmp" / f"fabula-minilm-{os.getuid()}" / minilm.build_key()
    shutil.copytree(served, fallback, ignore=shutil.ignore_patterns(".lock"))  # as a build there would leave it
    assert minilm.onnx_folder() == fallback
    assert not blocked.is_dir()
