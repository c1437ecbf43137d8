"""The speed options a GPU worker may turn on (compile cache, torchao
quantisation, batched guidance): each one's report on this CPU says applied
or not applied and why, the defaults stay off, and the fidelity figures the
bench prints (PSNR, mean absolute difference) are right on known frames."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gen.pipelines.options import COMPILE_CACHE, GenOptions
from gen.pipelines.registry import load_generator
from tests.gen_fixtures import SIZE

ROOT = Path(__file__).resolve().parents[2]


def _load_bench(name: str):
    spec = importlib.util.spec_from_file_location(f"fabula_bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fidelity = _load_bench("gen_fidelity").fidelity

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- defaults ---------------------------------------------------------------------


def test_cpu_defaults_are_unchanged_and_the_new_options_are_off():
    opts = GenOptions()
    assert (opts.dtype, opts.attention, opts.compile, opts.cache, opts.offload, opts.vae_tiling) == ("auto", "native", False, "none", "none", False)
    assert (opts.compile_cache, opts.quantize, opts.cfg_batch) == (False, "none", False)
    assert opts.torch_dtype("cpu") == torch.float32
    assert GenOptions.from_env({}) == opts


def test_new_options_from_env():
    opts = GenOptions.from_env({"FABULA_GEN_COMPILE_CACHE": "on", "FABULA_GEN_QUANTIZE": "int8_weight", "FABULA_GEN_CFG_BATCH": "1"})
    assert opts == GenOptions(compile_cache=True, quantize="int8_weight", cfg_batch=True)
    for env, name in (
        ({"FABULA_GEN_QUANTIZE": "int4"}, "FABULA_GEN_QUANTIZE"),
        ({"FABULA_GEN_CFG_BATCH": "sometimes"}, "FABULA_GEN_CFG_BATCH"),
        ({"FABULA_GEN_COMPILE_CACHE": "/tmp"}, "FABULA_GEN_COMPILE_CACHE"),
    ):
        with pytest.raises(ValueError, match=name):
            GenOptions.from_env(env)


def test_a_default_load_reports_the_new_options_off(tiny_models_root):
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(sound="silent"))
    assert gen.applied["quantize"] == "none"
    assert gen.applied["cfg_batch"] == "off"
    assert gen.applied["compile_cache"] == "off"
    assert not (tiny_models_root / COMPILE_CACHE).exists() or gen.applied["compile_cache"] == "off"


# --- compile cache -----------------------------------------------------------------


def test_compile_cache_without_compile_says_there_is_nothing_to_cache(tiny_models_root):
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(compile_cache=True, sound="silent"))
    assert gen.applied["compile_cache"].startswith("not applied") and "compile is off" in gen.applied["compile_cache"]


def test_compile_cache_points_torch_at_a_folder_under_the_models_root(tiny_models_root, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(compile=True, compile_cache=True, sound="silent"))
    folder = (tiny_models_root / COMPILE_CACHE).resolve()
    assert gen.applied["compile_cache"].startswith(str(tiny_models_root / COMPILE_CACHE))
    import os

    from torch._inductor.runtime.cache_dir_utils import cache_dir

    assert Path(os.environ["TORCHINDUCTOR_CACHE_DIR"]) == folder
    assert Path(cache_dir()) == folder  # where inductor will write its artefacts


# --- quantisation ------------------------------------------------------------------


def test_int8_weight_quantisation_applies_on_cpu_and_stays_close(tiny_models_root):
    """With the ``gpu`` (or ``bench``) extra installed, int8 applies; without it the
    report says so and the model is left as loaded."""
    try:
        import torchao  # noqa: F401
    except ImportError:
        gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(quantize="int8_weight", sound="silent"))
        assert gen.applied["quantize"].startswith("not applied: torchao is not installed")
        assert all(type(m.weight).__name__ == "Parameter" for m in gen.pipe.transformer.modules() if isinstance(m, torch.nn.Linear))
        return
    plain = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(sound="silent"))
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(quantize="int8_weight", sound="silent"))
    assert gen.applied["quantize"].startswith("int8_weight (") and "torchao" in gen.applied["quantize"]
    quantised = [m for m in gen.pipe.transformer.modules() if isinstance(m, torch.nn.Linear) and type(m.weight).__name__ != "Parameter"]
    assert quantised, "no linear layer carries a quantised weight"
    a = plain.generate("a lighthouse", **SIZE, steps=2, seed=5)
    b = gen.generate("a lighthouse", **SIZE, steps=2, seed=5)
    assert a.shape == b.shape
    assert not np.array_equal(a, b)  # really quantised
    assert fidelity(b, a).psnr > 20  # and still the same picture


def test_fp8_says_it_needs_cuda_on_this_host(tiny_models_root):
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(quantize="fp8", sound="silent"))
    assert gen.applied["quantize"].startswith("not applied") and "CUDA" in gen.applied["quantize"]
    assert all(type(m.weight).__name__ == "Parameter" for m in gen.pipe.transformer.modules() if isinstance(m, torch.nn.Linear))


# --- batched guidance ------------------------------------------------------------------


def test_ltx_pipelines_already_batch_guidance(tiny_models_root):
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(cfg_batch=True, sound="silent"))
    assert gen.applied["cfg_batch"].startswith("already batched by LTXPipeline")


def test_cfg_batch_needs_the_prompt_cache(tiny_models_root):
    gen = load_generator("tiny-wan", tiny_models_root, device="cpu", options=GenOptions(cfg_batch=True, prompt_cache=0, sound="silent"))
    assert gen.applied["cfg_batch"].startswith("not applied") and "prompt cache" in gen.applied["cfg_batch"]


def test_wan_guidance_passes_run_as_one_batch_and_give_the_same_video(tiny_models_root):
    plain = load_generator("tiny-wan", tiny_models_root, device="cpu", options=GenOptions(sound="silent"))
    gen = load_generator("tiny-wan", tiny_models_root, device="cpu", options=GenOptions(cfg_batch=True, sound="silent"))
    assert gen.applied["cfg_batch"].startswith("on")
    calls: list[int] = []
    # The batch that reaches the model's first layer (the pipeline's own calls of the transformer stay two per step).
    gen.pipe.transformer.patch_embedding.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape[0]))
    batched = gen.generate("a kite over the dunes", **SIZE, steps=3, seed=4)
    # One transformer pass of batch two per step instead of two passes of one.
    assert calls == [2, 2, 2]
    assert gen.pipe.transformer._fabula_cfg_batcher.batched_steps == 3
    reference = plain.generate("a kite over the dunes", **SIZE, steps=3, seed=4)
    assert fidelity(batched, reference).mad <= 1.0  # float32 batch-of-two reorders sums, nothing more

    # A plain pipe(...) call on the same pipeline is not touched: two passes of one, exact.
    calls.clear()
    kwargs = gen.family.call_kwargs(gen.spec, **SIZE, steps=3)
    gen.pipe(prompt="a kite", negative_prompt=gen.spec.negative_prompt, generator=torch.Generator().manual_seed(4), output_type="np", **kwargs)
    assert calls == [1] * 6


# --- fidelity figures --------------------------------------------------------------------


def test_fidelity_of_identical_frames_is_exact():
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    f = fidelity(frames, frames.copy())
    assert f.mad == 0.0 and f.psnr == math.inf and f.identical


def test_fidelity_on_known_frames():
    ref = np.full((2, 4, 4, 3), 100, dtype=np.uint8)
    out = ref.copy()
    out[0] = 110  # half the values off by 10
    f = fidelity(out, ref)
    assert f.mad == pytest.approx(5.0)
    # MSE = 50 -> PSNR = 10 log10(255^2 / 50)
    assert f.psnr == pytest.approx(10 * math.log10(255**2 / 50))
    assert not f.identical
    # No uint8 wrap-around: 0 against 255 is a difference of 255, not 1.
    assert fidelity(np.zeros((1, 1, 1, 3), np.uint8), np.full((1, 1, 1, 3), 255, np.uint8)).mad == 255.0


def test_fidelity_refuses_frames_of_another_shape():
    with pytest.raises(ValueError, match="shape"):
        fidelity(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((3, 4, 4, 3), np.uint8))
