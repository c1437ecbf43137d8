"""The tiny LTX-Video preset built, saved and reloaded through the real
diffusers loading code, and the VideoGenerator contract the worker relies on."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from gen.pipelines.base import VideoGenerator
from gen.pipelines.registry import (
    BUILD_MARKER,
    PRESETS,
    ModelMissing,
    ensure_built,
    is_built,
    load_generator,
)
from gen.pipelines.tiny import TINY_BUILD_VERSION, build_tiny_ltx

SIZE = dict(width=64, height=64, num_frames=9)


class Cancelled(Exception):
    pass


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pipeline-models")


@pytest.fixture(scope="module")
def generator(tiny_models_root) -> VideoGenerator:
    return load_generator("tiny", tiny_models_root, device="cpu")


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    for file in sorted(folder.glob("*/*.safetensors")):
        for key, value in load_file(file).items():
            out[f"{file.parent.name}/{key}"] = value
    return out


def test_tiny_is_built_saved_and_loaded_through_from_pretrained(generator, tiny_models_root):
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel
    from transformers import T5EncoderModel

    folder = tiny_models_root / "tiny-ltx"
    assert (folder / "model_index.json").is_file()
    assert json.loads((folder / BUILD_MARKER).read_text()) == {"version": TINY_BUILD_VERSION}
    for component in ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / component).is_dir(), component

    pipe = generator.pipe
    assert isinstance(pipe, LTXPipeline)
    assert isinstance(pipe.transformer, LTXVideoTransformer3DModel)
    assert isinstance(pipe.vae, AutoencoderKLLTXVideo)
    assert isinstance(pipe.text_encoder, T5EncoderModel)
    assert isinstance(pipe.scheduler, FlowMatchEulerDiscreteScheduler)
    # Loaded from the folder, not handed over in memory by the builder.
    assert Path(pipe.config._name_or_path) == folder
    assert generator.preset == "tiny" and generator.fps == 8 and generator.default_steps == 4
    assert generator.device == "cpu" and pipe.transformer.dtype == torch.float32

    # The weights in memory are the ones on disk.
    saved = _weights(folder)
    live = {f"transformer/{k}": v for k, v in pipe.transformer.state_dict().items()}
    shared = set(saved) & set(live)
    assert len(shared) > 10
    for key in shared:
        assert torch.equal(saved[key], live[key]), key


def test_tokenizer_round_trips_without_unknowns(generator):
    tok = generator.pipe.tokenizer
    ids = tok("a cat walks on the beach at sunset, 42!").input_ids
    assert ids[-1] == tok.eos_token_id
    assert tok.unk_token_id not in ids
    assert len(ids) > 5


def test_build_is_deterministic(tmp_path):
    build_tiny_ltx(tmp_path / "one")
    build_tiny_ltx(tmp_path / "two")
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) > 20
    assert all(torch.equal(one[k], two[k]) for k in one)


def test_build_leaves_caller_rng_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_ltx(tmp_path / "m")
    assert torch.equal(torch.rand(3), expected)


def test_existing_build_is_reused_not_rebuilt(tiny_models_root, generator):
    index = tiny_models_root / "tiny-ltx" / "model_index.json"
    before = index.stat()
    again = load_generator("tiny", tiny_models_root, device="cpu")
    after = index.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert again.pipe is not generator.pipe


def test_concurrent_builders_end_with_one_complete_folder(tmp_path):
    folder = tmp_path / "tiny-ltx"
    calls: list[Path] = []
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def build(path: Path) -> None:
        calls.append(path)
        build_tiny_ltx(path)
        barrier.wait(timeout=30)  # every builder finishes before any renames

    def run() -> None:
        try:
            ensure_built(folder, build, TINY_BUILD_VERSION)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(calls) == 4 and len(set(calls)) == 4
    assert is_built(folder, TINY_BUILD_VERSION)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-ltx"]  # no temp folders left


def test_temp_folders_of_dead_builders_are_swept(tmp_path):
    import os
    import time

    old = tmp_path / ".tiny-ltx.build-999-deadbeef"
    fresh = tmp_path / ".tiny-ltx.build-998-cafebabe"  # maybe a live builder: kept
    for leftover in (old, fresh):
        (leftover / "vae").mkdir(parents=True)
    long_ago = time.time() - 2 * 3600
    os.utime(old, (long_ago, long_ago))
    ensure_built(tmp_path / "tiny-ltx", build_tiny_ltx, TINY_BUILD_VERSION)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["tiny-ltx", fresh.name])


def test_folder_from_another_build_version_is_replaced(tmp_path):
    folder = tmp_path / "tiny-ltx"
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    (folder / BUILD_MARKER).write_text(json.dumps({"version": -1}))
    gen = load_generator("tiny", tmp_path, device="cpu")
    assert is_built(folder, TINY_BUILD_VERSION)
    assert gen.generate("x", **SIZE, steps=1, seed=0).shape == (9, 64, 64, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-ltx"]


def test_generate_returns_uint8_frames_of_the_requested_shape(generator):
    video = generator.generate("a red fox runs through snow", **SIZE, steps=4, seed=7)
    assert video.shape == (9, 64, 64, 3)
    assert video.dtype == np.uint8
    assert video.flags.c_contiguous
    assert video.std() > 0  # not a constant image


def test_generate_other_sizes(generator):
    video = generator.generate("a boat", width=96, height=64, num_frames=17, steps=1, seed=1)
    assert video.shape == (17, 64, 96, 3)


def test_same_seed_same_video_different_seed_different_video(generator):
    a = generator.generate("a cat", **SIZE, steps=2, seed=11)
    b = generator.generate("a cat", **SIZE, steps=2, seed=11)
    c = generator.generate("a cat", **SIZE, steps=2, seed=12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_on_step_is_called_once_per_step_in_order(generator):
    calls: list[tuple[int, int]] = []
    generator.generate("a bird", **SIZE, steps=4, seed=1, on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_exception_from_on_step_stops_generation_early(generator):
    calls: list[int] = []

    def on_step(i: int, total: int) -> None:
        calls.append(i)
        if i == 2:
            raise Cancelled("job cancelled")

    with pytest.raises(Cancelled, match="job cancelled"):
        generator.generate("a bird", **SIZE, steps=6, seed=1, on_step=on_step)
    assert calls == [1, 2]  # steps 3..6 never ran

    # The generator is still usable after a cancelled run.
    after: list[int] = []
    video = generator.generate("a bird", **SIZE, steps=3, seed=1, on_step=lambda i, n: after.append(i))
    assert after == [1, 2, 3] and video.shape == (9, 64, 64, 3)


def test_on_latents_gets_unpacked_latents_each_step(generator):
    seen: list[tuple[int, int, tuple[int, ...]]] = []
    steps: list[int] = []
    generator.generate(
        "a bird",
        **SIZE,
        steps=3,
        seed=1,
        on_step=lambda i, n: steps.append(i),
        on_latents=lambda i, n, lat: seen.append((i, n, tuple(lat.shape))),
    )
    channels = generator.pipe.transformer.config.in_channels
    assert seen == [(i, 3, (channels, 3, 16, 16)) for i in (1, 2, 3)]
    assert steps == [1, 2, 3]


def test_frame_count_follows_fps_and_8k_plus_1(generator):
    assert generator.frame_count(1) == 9
    assert generator.frame_count(4) == 33
    ltx = VideoGenerator(None, PRESETS["ltx-video"], "cpu")  # rules only, no model
    assert ltx.frame_count(1) == 25
    assert all((ltx.frame_count(s) - 1) % 8 == 0 for s in (1, 4, 8, 12))
    with pytest.raises(ValueError):
        generator.frame_count(0)


@pytest.mark.parametrize(
    "width,height,needle",
    [(65, 64, "multiples of 32"), (64, 100, "multiples of 32"), (0, 64, "positive"), (-32, 64, "positive"), (2048, 64, "up to")],
)
def test_check_size_rejects_sizes_the_model_cannot_make(generator, width, height, needle):
    with pytest.raises(ValueError, match=needle):
        generator.check_size(width, height)


def test_check_size_accepts_multiples_of_32(generator):
    generator.check_size(64, 64)
    generator.check_size(96, 32)
    VideoGenerator(None, PRESETS["ltx-video"], "cpu").check_size(1280, 704)  # rules only, no model


def test_generate_rejects_bad_requests_before_running(generator):
    calls: list[int] = []
    for kwargs in (dict(width=60, height=64, num_frames=9), dict(width=64, height=64, num_frames=8)):
        with pytest.raises(ValueError):
            generator.generate("x", **kwargs, steps=2, on_step=lambda i, n: calls.append(i))
    with pytest.raises(ValueError):
        generator.generate("x", **SIZE, steps=0)
    assert calls == []


def test_unknown_preset_lists_known_presets(tmp_path):
    with pytest.raises(ValueError) as info:
        load_generator("sora-9000", tmp_path)
    message = str(info.value)
    assert "sora-9000" in message and "tiny" in message and "ltx-video" in message
    assert list(tmp_path.iterdir()) == []


def test_missing_real_model_raises_model_missing_without_downloading(tmp_path):
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("Lightricks/LTX-Video", "model_index.json"), str):
        pytest.skip("LTX-Video is in this machine's Hugging Face cache")
    with pytest.raises(ModelMissing) as info:
        load_generator("ltx-video", tmp_path, device="cpu")
    err = info.value
    message = str(err)
    assert err.preset == "ltx-video"
    assert err.path == tmp_path / "ltx-video"
    assert "ltx-video" in message and str(tmp_path / "ltx-video") in message
    assert "Lightricks/LTX-Video" in message and "hf download" in message
    assert list(tmp_path.iterdir()) == []  # nothing fetched or created


def test_broken_real_model_folder_is_reported_as_missing(tmp_path):
    folder = tmp_path / "ltx-video"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "LTXPipeline", "vae": ["diffusers", "AutoencoderKLLTXVideo"]}))
    with pytest.raises(ModelMissing, match="load failed"):
        load_generator("ltx-video", tmp_path, device="cpu")


def test_generated_clip_encodes_to_an_mp4_with_every_frame(generator, tmp_path):
    import av

    from gen.encode import encode_mp4
    from gen.media import LocalMediaStore

    store = LocalMediaStore(tmp_path / "media")
    video = generator.generate("a lighthouse at night", **SIZE, steps=2, seed=3)
    out = encode_mp4(video, generator.fps, store.path("video_test", "video"))
    assert store.exists("video_test", "video") and store.size("video_test", "video") == out.bytes
    with av.open(out.path) as container:
        assert sum(1 for _ in container.decode(video=0)) == 9
