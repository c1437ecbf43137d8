"""The model presets: tiny pipelines of the real diffusers classes built,
saved and reloaded through the real loading code; the VideoGenerator contract
the worker relies on; generation options (cache hooks, offload, prompt
cache); image conditioning; and the real presets' clear errors when their
weights are absent."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gen.pipelines.base import VideoGenerator
from gen.pipelines.options import GenOptions
from gen.pipelines.registry import (
    BUILD_MARKER,
    PRESETS,
    ModelMissing,
    ensure_built,
    is_built,
    load_generator,
)
from gen.pipelines.tiny import (
    TINY_BUILD_VERSION,
    TINY_LTX2_BUILD_VERSION,
    build_tiny_ltx2,
    build_tiny_wan,
    tiny_gemma_tokenizer,
    tiny_vocab,
)
from tests.gen_fixtures import SIZE, Cancelled

REAL_PRESETS = ["ltx-2", "ltx-video", "wan2.1-t2v-1.3b", "wan2.2-ti2v-5b"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ltx(tiny_models_root) -> VideoGenerator:
    return load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(sound="silent"))


@pytest.fixture(scope="module")
def wan(tiny_models_root) -> VideoGenerator:
    return load_generator("tiny-wan", tiny_models_root, device="cpu", options=GenOptions(sound="silent"))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    for file in sorted(folder.glob("*/*.safetensors")):
        for key, value in load_file(file).items():
            out[f"{file.parent.name}/{key}"] = value
    return out


def _assert_loaded_from(folder: Path, pipe) -> None:
    # Loaded from the folder, not handed over in memory by the builder...
    assert Path(pipe.config._name_or_path) == folder
    # ...and the weights in memory are the ones on disk.
    saved = _weights(folder)
    live = {f"transformer/{k}": v for k, v in pipe.transformer.state_dict().items()}
    shared = set(saved) & set(live)
    assert len(shared) > 10
    for key in shared:
        assert torch.equal(saved[key], live[key]), key


def test_tiny_is_ltx2_built_saved_and_loaded_through_from_pretrained(tiny, tiny_models_root):
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3ForConditionalGeneration

    folder = tiny_models_root / "tiny-ltx2"
    assert (folder / "model_index.json").is_file()
    assert json.loads((folder / BUILD_MARKER).read_text()) == {"version": TINY_LTX2_BUILD_VERSION}
    for component in ("transformer", "vae", "audio_vae", "vocoder", "connectors", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / component).is_dir(), component

    pipe = tiny.pipe
    assert isinstance(pipe, LTX2Pipeline)
    assert isinstance(pipe.transformer, LTX2VideoTransformer3DModel)
    assert isinstance(pipe.vae, AutoencoderKLLTX2Video)
    assert isinstance(pipe.audio_vae, AutoencoderKLLTX2Audio)
    assert isinstance(pipe.vocoder, LTX2Vocoder)
    assert isinstance(pipe.connectors, LTX2TextConnectors)
    assert isinstance(pipe.text_encoder, Gemma3ForConditionalGeneration)
    assert isinstance(pipe.scheduler, FlowMatchEulerDiscreteScheduler)
    _assert_loaded_from(folder, pipe)
    assert tiny.preset == "tiny" and tiny.fps == 8 and tiny.default_steps == 4
    assert tiny.device == "cpu" and pipe.transformer.dtype == torch.float32
    assert tiny.makes_sound and tiny.sample_rate == 16000
    assert tiny.applied["sound"].startswith("joint")


def test_tiny_ltx_video_and_tiny_wan_load_their_classes(ltx, wan, tiny_models_root):
    from diffusers import AutoencoderKLLTXVideo, AutoencoderKLWan, LTXPipeline, WanPipeline, WanTransformer3DModel
    from transformers import T5EncoderModel, UMT5EncoderModel

    assert isinstance(ltx.pipe, LTXPipeline) and isinstance(ltx.pipe.vae, AutoencoderKLLTXVideo)
    assert isinstance(ltx.pipe.text_encoder, T5EncoderModel)
    assert json.loads((tiny_models_root / "tiny-ltx" / BUILD_MARKER).read_text()) == {"version": TINY_BUILD_VERSION}
    _assert_loaded_from(tiny_models_root / "tiny-ltx", ltx.pipe)

    assert isinstance(wan.pipe, WanPipeline) and isinstance(wan.pipe.transformer, WanTransformer3DModel)
    assert isinstance(wan.pipe.vae, AutoencoderKLWan) and isinstance(wan.pipe.text_encoder, UMT5EncoderModel)
    assert wan.pipe.config.expand_timesteps  # one transformer for text- and image-to-video (Wan 2.2 TI2V layout)
    _assert_loaded_from(tiny_models_root / "tiny-wan", wan.pipe)
    assert (wan.temporal_compression, wan.spatial_compression) == (4, 16)


def test_tokenizers_round_trip_without_unknowns(tiny, ltx):
    for tok in (tiny.pipe.tokenizer, ltx.pipe.tokenizer):
        ids = tok("a cat walks on the beach at sunset, 42!").input_ids
        assert tok.unk_token_id not in ids
        assert len(ids) > 5
    # Whole words are single pieces in both vocabularies.
    gemma = tiny.pipe.tokenizer
    assert gemma.convert_ids_to_tokens(gemma(" cat walks").input_ids) == ["\u2581cat", "\u2581walks"]
    t5 = ltx.pipe.tokenizer
    assert t5("a cat").input_ids[-1] == t5.eos_token_id
    assert len(tiny_vocab()) > 200 and len(tiny_gemma_tokenizer()) > 200


@pytest.mark.parametrize("build", [build_tiny_ltx2, build_tiny_wan])
def test_build_is_deterministic(tmp_path, build):
    build(tmp_path / "one")
    build(tmp_path / "two")
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) > 20
    assert all(torch.equal(one[k], two[k]) for k in one)


def test_build_leaves_caller_rng_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_ltx2(tmp_path / "m")
    assert torch.equal(torch.rand(3), expected)


def test_existing_build_is_reused_not_rebuilt(tiny_models_root, tiny):
    index = tiny_models_root / "tiny-ltx2" / "model_index.json"
    before = index.stat()
    again = load_generator("tiny-ltx2", tiny_models_root, device="cpu")
    after = index.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert again.pipe is not tiny.pipe


def test_concurrent_builders_end_with_one_complete_folder(tmp_path):
    folder = tmp_path / "tiny-ltx2"
    calls: list[Path] = []
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def build(path: Path) -> None:
        calls.append(path)
        build_tiny_ltx2(path)
        barrier.wait(timeout=30)  # every builder finishes before any renames

    def run() -> None:
        try:
            ensure_built(folder, build, TINY_LTX2_BUILD_VERSION)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(calls) == 4 and len(set(calls)) == 4
    assert is_built(folder, TINY_LTX2_BUILD_VERSION)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-ltx2"]  # no temp folders left


def test_temp_folders_of_dead_builders_are_swept(tmp_path):
    import os
    import time

    old = tmp_path / ".tiny-ltx2.build-999-deadbeef"
    fresh = tmp_path / ".tiny-ltx2.build-998-cafebabe"  # maybe a live builder: kept
    for leftover in (old, fresh):
        (leftover / "vae").mkdir(parents=True)
    long_ago = time.time() - 2 * 3600
    os.utime(old, (long_ago, long_ago))
    ensure_built(tmp_path / "tiny-ltx2", build_tiny_ltx2, TINY_LTX2_BUILD_VERSION)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["tiny-ltx2", fresh.name])


def test_folder_from_another_build_version_is_replaced(tmp_path):
    folder = tmp_path / "tiny-ltx2"
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    (folder / BUILD_MARKER).write_text(json.dumps({"version": -1}))
    gen = load_generator("tiny", tmp_path, device="cpu")
    assert is_built(folder, TINY_LTX2_BUILD_VERSION)
    assert gen.generate("x", **SIZE, steps=1, seed=0).shape == (9, 64, 64, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-ltx2"]


def test_generate_returns_uint8_frames_of_the_requested_shape(tiny):
    video = tiny.generate("a red fox runs through snow", **SIZE, steps=4, seed=7)
    assert video.shape == (9, 64, 64, 3)
    assert video.dtype == np.uint8
    assert video.flags.c_contiguous
    assert video.std() > 0  # not a constant image


@pytest.mark.parametrize("which", ["tiny", "ltx", "wan"])
def test_generate_other_sizes(request, which):
    gen = request.getfixturevalue(which)
    video = gen.generate("a boat", width=96, height=64, num_frames=17, steps=1, seed=1)
    assert video.shape == (17, 64, 96, 3)


def test_same_seed_same_video_different_seed_different_video(tiny):
    a = tiny.generate("a cat", **SIZE, steps=2, seed=11)
    b = tiny.generate("a cat", **SIZE, steps=2, seed=11)
    c = tiny.generate("a cat", **SIZE, steps=2, seed=12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_on_step_is_called_once_per_step_in_order(tiny):
    calls: list[tuple[int, int]] = []
    tiny.generate("a bird", **SIZE, steps=4, seed=1, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_exception_from_on_step_stops_generation_early(tiny):
    calls: list[int] = []

    def on_step(i: int, total: int) -> None:
        calls.append(i)
        if i == 2:
            raise Cancelled("job cancelled")

    with pytest.raises(Cancelled, match="job cancelled"):
        tiny.generate("a bird", **SIZE, steps=6, seed=1, on_step=on_step)
    assert calls == [1, 2]  # steps 3..6 never ran

    # The generator is still usable after a cancelled run.
    after: list[int] = []
    video = tiny.generate("a bird", **SIZE, steps=3, seed=1, on_step=lambda i, n: after.append(i))
    assert after == [1, 2, 3] and video.shape == (9, 64, 64, 3)


@pytest.mark.parametrize("which,channels,grid", [("tiny", 4, (3, 4, 4)), ("ltx", 8, (3, 16, 16)), ("wan", 48, (3, 4, 4))])
def test_on_latents_gets_unpacked_latents_each_step(request, which, channels, grid):
    gen = request.getfixturevalue(which)
    seen: list[tuple[int, int, tuple[int, ...]]] = []
    steps: list[int] = []
    gen.generate(
        "a bird",
        **SIZE,
        steps=3,
        seed=1,
        on_step=lambda i, n: steps.append(i),
        on_latents=lambda i, n, lat: seen.append((i, n, tuple(lat.shape))),
    )
    assert seen == [(i, 3, (channels, *grid)) for i in (1, 2, 3)]
    assert steps == [1, 2, 3]


def test_frame_count_follows_fps_and_8k_plus_1(tiny):
    assert tiny.frame_count(1) == 9
    assert tiny.frame_count(4) == 33
    ltx = VideoGenerator(None, PRESETS["ltx-video"], "cpu")  # rules only, no model
    assert ltx.frame_count(1) == 25
    assert all((ltx.frame_count(s) - 1) % 8 == 0 for s in (1, 4, 8, 12))
    wan = VideoGenerator(None, PRESETS["wan2.1-t2v-1.3b"], "cpu")
    assert wan.frame_count(5) == 81  # Wan's usual 81 frames at 16 fps
    with pytest.raises(ValueError):
        tiny.frame_count(0)


@pytest.mark.parametrize(
    "width,height,needle",
    [(65, 64, "multiples of 32"), (64, 100, "multiples of 32"), (0, 64, "positive"), (-32, 64, "positive"), (2048, 64, "up to")],
)
def test_check_size_rejects_sizes_the_model_cannot_make(tiny, width, height, needle):
    with pytest.raises(ValueError, match=needle):
        tiny.check_size(width, height)


def test_check_size_accepts_multiples_of_32(tiny):
    tiny.check_size(64, 64)
    tiny.check_size(96, 32)
    VideoGenerator(None, PRESETS["ltx-video"], "cpu").check_size(1280, 704)  # rules only, no model
    VideoGenerator(None, PRESETS["wan2.1-t2v-1.3b"], "cpu").check_size(832, 480)


def test_generate_rejects_bad_requests_before_running(tiny):
    calls: list[int] = []
    for kwargs in (dict(width=60, height=64, num_frames=9), dict(width=64, height=64, num_frames=8)):
        with pytest.raises(ValueError):
            tiny.generate("x", **kwargs, steps=2, on_step=lambda i, n: calls.append(i))
    with pytest.raises(ValueError):
        tiny.generate("x", **SIZE, steps=0)
    assert calls == []


@pytest.mark.parametrize("which", ["tiny", "ltx", "wan"])
def test_generator_frames_are_exactly_a_plain_pipeline_call(request, which):
    """The worker's path (cached embeddings, uint8 on the device) changes nothing about the video."""
    from gen.pipelines.base import to_uint8

    gen = request.getfixturevalue(which)
    kwargs = gen.family.call_kwargs(gen.spec, **SIZE, steps=3)
    kwargs.update(gen.spec.call_kwargs)
    plain = gen.pipe(
        prompt="a snowy owl", negative_prompt=gen.spec.negative_prompt, generator=torch.Generator().manual_seed(8), output_type="np", **kwargs
    )
    assert np.array_equal(gen.generate("a snowy owl", **SIZE, steps=3, seed=8), to_uint8(np.asarray(plain.frames[0])))


# --- options -----------------------------------------------------------------


def test_gen_options_from_env():
    assert GenOptions.from_env({}) == GenOptions()
    opts = GenOptions.from_env(
        {
            "FABULA_GEN_DTYPE": "float16",
            "FABULA_GEN_COMPILE": "1",
            "FABULA_GEN_CACHE": "first_block",
            "FABULA_GEN_CACHE_THRESHOLD": "0.1",
            "FABULA_GEN_OFFLOAD": "model",
            "FABULA_GEN_VAE_TILING": "yes",
            "FABULA_GEN_PROMPT_CACHE": "4",
            "FABULA_GEN_SOUND": "silent",
            "FABULA_OTHER": "ignored",
        }
    )
    assert opts == GenOptions(
        dtype="float16", compile=True, cache="first_block", cache_threshold=0.1, offload="model", vae_tiling=True, prompt_cache=4, sound="silent"
    )
    assert opts.torch_dtype("cuda") == torch.float16
    assert GenOptions.from_env({"FABULA_GEN_THREADS": "1", "FABULA_GEN_PREVIEW_FIT": "off"}) == GenOptions(threads=1, preview_fit=False)
    assert GenOptions().torch_dtype("cuda") == torch.bfloat16 and GenOptions().torch_dtype("cpu") == torch.float32
    for env, name in (
        ({"FABULA_GEN_CACHE": "teacache"}, "FABULA_GEN_CACHE"),
        ({"FABULA_GEN_COMPILE": "maybe"}, "FABULA_GEN_COMPILE"),
        ({"FABULA_GEN_CACHE_THRESHOLD": "-1"}, "FABULA_GEN_"),
        ({"FABULA_GEN_OFFLOAD": "disk"}, "FABULA_GEN_OFFLOAD"),
        ({"FABULA_GEN_THREADS": "two"}, "FABULA_GEN_THREADS"),
        ({"FABULA_GEN_STEPS": "101"}, "FABULA_GEN_STEPS"),
        ({"FABULA_GEN_STEPS": "-1"}, "FABULA_GEN_STEPS"),
    ):
        with pytest.raises(ValueError, match=name):
            GenOptions.from_env(env)


def test_a_deployment_sets_the_steps_of_jobs_that_name_none(tiny_models_root, ltx):
    """FABULA_GEN_STEPS replaces the preset's default; a job's own steps still win (the worker passes them)."""
    assert GenOptions.from_env({"FABULA_GEN_STEPS": "12"}) == GenOptions(steps=12)
    assert ltx.default_steps == 4 and "the preset's" in ltx.applied["steps"]
    slow = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(steps=7, sound="silent"))
    assert slow.default_steps == 7 and slow.applied["steps"].startswith("7 ")


def test_first_block_cache_is_enabled_and_skips_the_tail_blocks(tiny_models_root, ltx):
    """First Block Cache on the tiny LTX-Video transformer: same shapes, really on.

    Threshold 0 never skips (output identical to no cache); a huge threshold
    skips the remaining blocks on every step after the first (the last block
    runs once) and changes the output.
    """
    plain = ltx.generate("a lighthouse", **SIZE, steps=4, seed=5)
    exact = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(cache="first_block", cache_threshold=0.0, sound="silent"))
    assert exact.pipe.transformer.is_cache_enabled
    assert exact.applied["cache"].startswith("first_block")
    assert np.array_equal(exact.generate("a lighthouse", **SIZE, steps=4, seed=5), plain)

    lossy = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(cache="first_block", cache_threshold=1e9, sound="silent"))
    blocks = lossy.pipe.transformer.transformer_blocks
    ran = {"head": 0, "tail": 0}
    blocks[0].attn1.register_forward_pre_hook(lambda *_: ran.__setitem__("head", ran["head"] + 1))
    blocks[-1].attn1.register_forward_pre_hook(lambda *_: ran.__setitem__("tail", ran["tail"] + 1))
    cached = lossy.generate("a lighthouse", **SIZE, steps=4, seed=5)
    assert cached.shape == plain.shape and cached.dtype == np.uint8
    assert ran == {"head": 4, "tail": 1}
    assert not np.array_equal(cached, plain)
    # State is reset between runs: the next run computes its first step in full again.
    ran.update(head=0, tail=0)
    assert np.array_equal(lossy.generate("a lighthouse", **SIZE, steps=4, seed=5), cached)
    assert ran == {"head": 4, "tail": 1}


def test_options_that_cannot_apply_say_why(tiny_models_root):
    gen = load_generator(
        "tiny", tiny_models_root, device="cpu", options=GenOptions(cache="first_block", offload="model", vae_tiling=True)
    )
    assert gen.applied["offload"].startswith("not applied") and "CUDA" in gen.applied["offload"]
    # LTX-2's blocks are not among those diffusers' First Block Cache knows.
    assert gen.applied["cache"].startswith("not applied")
    assert not gen.pipe.transformer.is_cache_enabled
    assert gen.applied["vae_tiling"] == "on" and gen.pipe.vae.use_tiling
    assert gen.generate("a kite", **SIZE, steps=2, seed=1).shape == (9, 64, 64, 3)


def test_compile_wraps_the_repeated_blocks_lazily(tiny_models_root):
    gen = load_generator("tiny-ltx", tiny_models_root, device="cpu", options=GenOptions(compile=True, sound="silent"))
    assert gen.applied["compile"].startswith("repeated blocks")
    # Compiled on first run only: loading stays cheap, and nothing ran here.
    assert all(block._compiled_call_impl is not None for block in gen.pipe.transformer.transformer_blocks)


def test_pyramid_attention_broadcast_runs(tiny_models_root):
    gen = load_generator("tiny-wan", tiny_models_root, device="cpu", options=GenOptions(cache="pab", sound="silent"))
    assert gen.applied["cache"] == "pab" and gen.pipe.transformer.is_cache_enabled
    assert gen.generate("a kite", **SIZE, steps=3, seed=1).shape == (9, 64, 64, 3)


@pytest.mark.parametrize("which", ["tiny", "ltx", "wan"])
def test_prompt_cache_gives_the_same_video_and_skips_the_text_encoder(request, tiny_models_root, which):
    gen = request.getfixturevalue(which)
    uncached = load_generator(gen.preset, tiny_models_root, device="cpu", options=GenOptions(prompt_cache=0, sound="silent"))
    calls: list[int] = []
    gen.pipe.text_encoder.register_forward_pre_hook(lambda *_: calls.append(1))
    prompt = f"a {which} sails over a calm sea"
    a = gen.generate(prompt, **SIZE, steps=2, seed=3)
    first = len(calls)
    assert 1 <= first <= 2  # the prompt, and the negative unless an earlier job encoded it
    b = gen.generate(prompt, **SIZE, steps=2, seed=3)
    assert len(calls) == first  # nothing encoded again
    gen.generate(prompt + " at night", **SIZE, steps=2, seed=3)
    assert len(calls) == first + 1  # the new prompt only; the negative stays cached
    assert np.array_equal(a, b)
    assert np.array_equal(a, uncached.generate(prompt, **SIZE, steps=2, seed=3))


# --- image conditioning -------------------------------------------------------


def _reference(color: tuple[int, int, int]) -> Image.Image:
    # Not the output size or aspect: the generator crops and resizes it.
    y, x = np.mgrid[0:96, 0:80]
    pixels = np.stack([(x * 3) % 256, (y * 2) % 256, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    pixels[16:80, 16:64] = color
    return Image.fromarray(pixels)


def _first_frame_inputs(gen: VideoGenerator, image, seed: int = 2) -> tuple[np.ndarray, list[torch.Tensor]]:
    """The video, and the first latent frame the transformer was given at each step."""
    pipe = gen._image_pipeline() if image is not None else gen.pipe
    f, h, w = gen.latent_shape(9, 64, 64)
    seen: list[torch.Tensor] = []

    def spy(_module, _args, kwargs):
        hidden = kwargs["hidden_states"]
        first = hidden[:, :, 0] if hidden.ndim == 5 else hidden[:, : h * w]  # Wan: (B,C,F,H,W); LTX: packed tokens
        seen.append(first[-1].detach().clone())

    handle = pipe.transformer.register_forward_pre_hook(spy, with_kwargs=True)
    try:
        video = gen.generate("a portrait", **SIZE, steps=3, seed=seed, image=image)
    finally:
        handle.remove()
    return video, seen


@pytest.mark.parametrize("which", ["tiny", "ltx", "wan"])
def test_reference_image_conditions_the_first_frame(request, which):
    """The conditioned-latent path is taken: with an image, the first latent
    frame the denoiser sees is the encoded image at every step (it is not
    denoised); without one it changes every step; a different image gives a
    different first latent frame and a different video."""
    gen = request.getfixturevalue(which)
    plain, free = _first_frame_inputs(gen, None)
    red, fixed_red = _first_frame_inputs(gen, _reference((230, 20, 20)))
    blue, fixed_blue = _first_frame_inputs(gen, _reference((20, 20, 230)))

    assert len(free) >= 3 and not torch.equal(free[0], free[-1])
    assert all(torch.equal(fixed_red[0], x) for x in fixed_red)
    assert all(torch.equal(fixed_blue[0], x) for x in fixed_blue)
    assert not torch.equal(fixed_red[0], fixed_blue[0])
    assert red.shape == blue.shape == plain.shape == (9, 64, 64, 3)
    assert not np.array_equal(red, plain) and not np.array_equal(red, blue)


def test_image_pipeline_shares_the_loaded_modules(tiny, ltx, wan):
    from diffusers import LTX2ImageToVideoPipeline, LTXImageToVideoPipeline, WanImageToVideoPipeline

    for gen, cls in ((tiny, LTX2ImageToVideoPipeline), (ltx, LTXImageToVideoPipeline), (wan, WanImageToVideoPipeline)):
        image_pipe = gen._image_pipeline()
        assert isinstance(image_pipe, cls)
        assert image_pipe.transformer is gen.pipe.transformer and image_pipe.vae is gen.pipe.vae
        assert gen._image_pipeline() is image_pipe  # made once


def test_presets_without_image_to_video_refuse_an_image():
    rules = VideoGenerator(None, PRESETS["wan2.1-t2v-1.3b"], "cpu")
    with pytest.raises(ValueError, match="reference image"):
        rules.generate("x", width=64, height=64, num_frames=9, steps=2, image=_reference((1, 2, 3)))


# --- presets ------------------------------------------------------------------


def test_unknown_preset_lists_known_presets(tmp_path):
    with pytest.raises(ValueError) as info:
        load_generator("sora-9000", tmp_path)
    message = str(info.value)
    assert "sora-9000" in message
    for name in ("tiny", "tiny-ltx", "tiny-wan", "tiny-ltx2", *REAL_PRESETS):
        assert name in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", REAL_PRESETS)
def test_missing_real_model_raises_model_missing_without_downloading(tmp_path, name):
    from huggingface_hub import try_to_load_from_cache

    hub_id = PRESETS[name].hub_id
    if isinstance(try_to_load_from_cache(hub_id, "model_index.json"), str):
        pytest.skip(f"{hub_id} is in this machine's Hugging Face cache")
    with pytest.raises(ModelMissing) as info:
        load_generator(name, tmp_path, device="cpu")
    err = info.value
    message = str(err)
    assert err.preset == name
    assert err.path == tmp_path / PRESETS[name].folder
    assert name in message and str(err.path) in message
    assert hub_id in message and "hf download" in message
    assert list(tmp_path.iterdir()) == []  # nothing fetched or created


def test_missing_sound_model_names_it_and_the_silent_way_out(tmp_path, tiny_models_root):
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("stabilityai/stable-audio-open-1.0", "model_index.json"), str):
        pytest.skip("Stable Audio Open is in this machine's Hugging Face cache")
    # A real video model folder that loads (the tiny LTX-Video build stands in for it)...
    import shutil

    shutil.copytree(tiny_models_root / "tiny-ltx", tmp_path / "ltx-video")
    with pytest.raises(ModelMissing) as info:
        load_generator("ltx-video", tmp_path, device="cpu")
    # ...still needs its sound model, and says which and how to do without.
    message = str(info.value)
    assert info.value.preset == "stable-audio-open"
    assert "stabilityai/stable-audio-open-1.0" in message and "FABULA_GEN_SOUND=silent" in message
    silent = load_generator("ltx-video", tmp_path, device="cpu", options=GenOptions(sound="silent"))
    assert silent.sound is None and silent.applied["sound"] == "silent track"


def test_broken_real_model_folder_is_reported_as_missing(tmp_path):
    folder = tmp_path / "ltx-video"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTXPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"]}))
    with pytest.raises(ModelMissing, match="load failed"):
        load_generator("ltx-video", tmp_path, device="cpu")


def test_generated_clip_encodes_to_an_mp4_with_every_frame(tiny, tmp_path):
    import av

    from gen.encode import encode_mp4

    video = tiny.generate("a lighthouse at night", **SIZE, steps=2, seed=3)
    out = encode_mp4(video, tiny.fps, tmp_path / "video_test" / "video.mp4")
    assert Path(out.path).stat().st_size == out.bytes
    with av.open(out.path) as container:
        assert sum(1 for _ in container.decode(video=0)) == 9
