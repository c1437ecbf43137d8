"""The two copies of all-MiniLM-L6-v2 (``core.minilm``), loaded from the
package that ships the model: the float one (the feed's post embeddings) and
the int8 one that ONNX Runtime runs (prompt moderation), exported and
quantised from the float weights when first loaded."""

from __future__ import annotations

import logging

import numpy as np

from core import minilm

TEXTS = [
    "a cat surfing a wave at sunset",
    "a chef slicing chicken breast in a busy kitchen",
    "time-lapse of clouds rolling over a mountain range",
    "two boxers trading punches in the last round",
]


def test_the_int8_copy_says_what_the_float_model_says_and_leaves_it_untouched():
    before = np.asarray(minilm.embed(TEXTS, "float"))
    int8 = np.asarray(minilm.embed(TEXTS, "int8"))
    after = np.asarray(minilm.embed(TEXTS, "float"))
    # exporting traces a model and leaves it altered: the float copy must not be the one traced
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert int8.shape == before.shape == (len(TEXTS), minilm.DIM)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    agreement = (int8 * before).sum(axis=1)
    assert agreement.min() > 0.93, agreement  # int8 weights move each vector a little ...
    # ... and keep which texts are alike: each text is nearest its own float vector
    assert list((int8 @ before.T).argmax(axis=1)) == list(range(len(TEXTS)))
    assert agreement.max() < 0.9999  # quantised: not the float model under another name


def test_a_prompt_alone_and_in_a_batch_pool_the_same_tokens():
    """Mean and max pooling skip the padding a batch adds."""
    alone = [minilm.embed([t], "int8", pooling="mean+max")[0] for t in TEXTS]
    batched = minilm.embed(TEXTS, "int8", pooling="mean+max")
    assert len(alone[0]) == 2 * minilm.DIM
    np.testing.assert_allclose(np.asarray(batched), np.asarray(alone), atol=0.05)


def test_building_the_int8_copy_leaves_the_log_quiet(caplog):
    # the quantiser logs a line per tensor on the root logger: dozens at each api start
    with caplog.at_level(logging.INFO):
        minilm.int8_copy()
    assert not [r for r in caplog.records if "onnxruntime" in r.pathname]
