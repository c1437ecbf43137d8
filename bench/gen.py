"""How fast does the worker's generation path run, next to a plain diffusers call?

For one preset and size it loads the pipeline once and measures, in the same
process and interleaved run by run (these machines are noisy):

  * plain: ``pipe(prompt=..., negative_prompt=..., <the preset's arguments>)``
    on the same loaded pipeline, cache hooks switched off for the call, no
    callback except one that notes when the first step ended;
  * worker: ``VideoGenerator.generate_clip`` as the worker runs it: with the
    options under test (First Block Cache where the model takes it,
    prompt-embedding cache, inference mode), a JPEG preview rendered at every
    step, and the sound track (joint for LTX-2, the sound model otherwise);
  * worker, video only: ``VideoGenerator.generate`` with the same options and
    previews but no sound (the like-for-like comparison for models whose
    plain pipeline makes no sound).

For each it prints seconds per run, denoising steps/s (steps over the time
from the call to the last step), output frames/s (frames over the whole
call), time to the first preview (for plain: to the end of the first step),
and peak memory (CUDA: peak allocated; CPU: peak resident set growth during
the call, sampled every 2 ms), then the worker/plain ratios and the cost of
one preview render.

Usage (from the repository root):
    .venv/bin/python bench/gen.py [--preset tiny] [--size 64x64] [--frames 9]
        [--steps 4] [--runs 5] [--cache first_block] [--device cpu|cuda] [--threads N]
        [--models DIR] [--real-size-config]

``--real-size-config`` skips the presets' folders and builds random-weight
pipelines with the real models' transformer and VAE configurations
(LTX-Video 2B, Wan 2.1 1.3B and LTX-2 with its audio VAE and vocoder; the
text encoder keeps the real width but two layers, since its cost is paid
once per prompt): random weights cost the same FLOPs. It first prints the
parameter counts (built on the meta device). Without a GPU it stops there,
unless ``--layers N`` asks for the real widths with N transformer blocks, a
path check of the same code at a size this CPU holds.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
# Run as a script, this folder is first on sys.path, and a bench module named
# like a standard library one would shadow it for torch: drop it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

PROMPT = "a red fox trots through fresh snow at sunrise, cinematic"
REAL_SIZE = {"ltx-video": "768x512", "wan2.1-t2v-1.3b": "832x480", "ltx-2": "768x512"}
REAL_FRAMES = {"ltx-video": 121, "wan2.1-t2v-1.3b": 81, "ltx-2": 121}
# Prompt tokens of a --layers path check (the real presets take up to 1024; 32
# elsewhere). LTX-2's text connectors want a multiple of their 128 registers.
PATH_CHECK_TEXT_TOKENS = {"ltx-2": 128}


# --- measuring -------------------------------------------------------------------


class PeakMemory:
    """Peak memory during a block: CUDA peak allocated, or CPU RSS growth sampled in a thread."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak_mb = 0.0

    def __enter__(self) -> PeakMemory:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return self
        import psutil

        self._proc = psutil.Process()
        self._base = self._proc.memory_info().rss
        self._peak = self._base
        self._done = threading.Event()

        def sample() -> None:
            while not self._done.wait(0.002):
                self._peak = max(self._peak, self._proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
            return
        self._done.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.peak_mb = (self._peak - self._base) / 2**20


@dataclass
class Runs:
    name: str
    seconds: list[float] = field(default_factory=list)
    to_last_step: list[float] = field(default_factory=list)
    first_preview: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    def row(self, steps: int, frames: int) -> dict[str, float]:
        s = statistics.median(self.seconds)
        return {
            "s/run": s,
            "steps/s": steps / statistics.median(self.to_last_step),
            "frames/s": frames / s,
            "first preview s": statistics.median(self.first_preview),
            "peak MB": max(self.peak_mb),
        }


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# --- the two paths ---------------------------------------------------------------


def plain_call(gen, width: int, height: int, frames: int, steps: int, seed: int, runs: Runs) -> None:
    """One plain diffusers call on the generator's pipeline, cache hooks off."""
    import torch

    pipe, spec = gen.pipe, gen.spec
    transformer = getattr(pipe, "transformer", None)
    config = getattr(transformer, "_cache_config", None)
    if config is not None:
        transformer.disable_cache()
    kwargs = gen.family.call_kwargs(spec, width=width, height=height, num_frames=frames, steps=steps)
    kwargs.update(spec.call_kwargs)
    marks: list[float] = []

    def note(_pipe, _i, _t, _kw):
        sync(gen.device)
        marks.append(time.perf_counter())
        return {}

    try:
        with PeakMemory(gen.device) as mem:
            start = time.perf_counter()
            result = pipe(
                prompt=PROMPT,
                negative_prompt=spec.negative_prompt,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="np",
                callback_on_step_end=note,
                callback_on_step_end_tensor_inputs=[],
                **kwargs,
            )
            sync(gen.device)
            end = time.perf_counter()
    finally:
        if config is not None:
            transformer.enable_cache(config)
    runs.seconds.append(end - start)
    runs.to_last_step.append(marks[-1] - start)
    runs.first_preview.append(marks[0] - start)
    runs.peak_mb.append(mem.peak_mb)
    from gen.pipelines.base import to_uint8

    return to_uint8(np.asarray(result.frames[0]))


def worker_call(gen, width: int, height: int, frames: int, steps: int, seed: int, runs: Runs, sound: bool, preview_ms: list[float]) -> None:
    """The worker's path: generate_clip (or generate) with a JPEG preview at every step."""
    marks: list[float] = []
    first: list[float] = []

    def on_latents(i: int, n: int, latents) -> None:
        if gen.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()  # the step's queued work is the step's, not the preview's
        t0 = time.perf_counter()
        gen.render_preview(latents)
        t1 = time.perf_counter()
        preview_ms.append((t1 - t0) * 1000)
        if not first:
            first.append(t1)

    def on_step(i: int, n: int) -> None:
        if i <= steps:
            marks.append(time.perf_counter())

    call = gen.generate_clip if sound else gen.generate
    with PeakMemory(gen.device) as mem:
        start = time.perf_counter()
        out = call(PROMPT, width=width, height=height, num_frames=frames, steps=steps, seed=seed, on_step=on_step, on_latents=on_latents)
        sync(gen.device)
        end = time.perf_counter()
    runs.seconds.append(end - start)
    runs.to_last_step.append(marks[steps - 1] - start)
    runs.first_preview.append(first[0] - start)
    runs.peak_mb.append(mem.peak_mb)
    return out.frames if sound else out


# --- real-size random-weight pipelines --------------------------------------------


def real_size_pipeline(preset: str, device: str, dtype, *, layers: int | None = None, seed: int = 0):
    """A random-weight diffusers pipeline with the real model's transformer and VAE configurations.

    ``layers`` keeps the real widths but builds only that many transformer
    blocks (a CPU path check of the same code; the FLOPs per block are the
    real ones). ``device="meta"`` allocates nothing (parameter counts only).
    Seeded: the same call builds the same weights.
    """
    import torch

    from gen.pipelines.tiny import _tokenizer, tiny_gemma_tokenizer

    torch.manual_seed(seed)
    if preset.startswith("wan"):
        from diffusers import UniPCMultistepScheduler

        # Built outside the device context: it keeps its sigmas on the CPU, which a meta build cannot.
        wan_scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    with torch.device(device):
        torch.set_default_dtype(dtype)
        try:
            if preset == "ltx-video":
                from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel
                from transformers import T5Config, T5EncoderModel

                tokenizer = _tokenizer()
                text = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=4096, d_kv=64, d_ff=10240, num_layers=2, num_heads=64, feed_forward_proj="gated-gelu"))
                # diffusers' defaults are LTX-Video 2B's transformer (28 blocks) and 0.9.x VAE.
                pipe = LTXPipeline(
                    scheduler=FlowMatchEulerDiscreteScheduler(),
                    vae=AutoencoderKLLTXVideo(),
                    text_encoder=text,
                    tokenizer=tokenizer,
                    transformer=LTXVideoTransformer3DModel(num_layers=layers or 28),
                )
            elif preset == "wan2.1-t2v-1.3b":
                from diffusers import AutoencoderKLWan, WanPipeline, WanTransformer3DModel
                from transformers import UMT5Config, UMT5EncoderModel

                tokenizer = _tokenizer()
                text = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=4096, d_kv=64, d_ff=10240, num_layers=2, num_heads=64, feed_forward_proj="gated-gelu"))
                transformer = WanTransformer3DModel(
                    patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
                    text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=layers or 30, cross_attn_norm=True,
                    qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024,
                )
                pipe = WanPipeline(
                    tokenizer=tokenizer,
                    text_encoder=text,
                    vae=AutoencoderKLWan().to(torch.float32),
                    scheduler=wan_scheduler,
                    transformer=transformer,
                )
            elif preset == "ltx-2":
                from diffusers import AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video, FlowMatchEulerDiscreteScheduler, LTX2Pipeline, LTX2VideoTransformer3DModel
                from diffusers.pipelines.ltx2 import LTX2TextConnectors
                from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
                from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

                tokenizer = tiny_gemma_tokenizer()
                # Gemma 3 12B's width (3840) with two of its 48 layers: its cost is paid once per prompt.
                text_config = Gemma3TextConfig(
                    vocab_size=len(tokenizer), hidden_size=3840, intermediate_size=15360, num_hidden_layers=2,
                    num_attention_heads=16, num_key_value_heads=8, head_dim=256, max_position_embeddings=8192,
                    sliding_window=1024, pad_token_id=0, eos_token_id=1, bos_token_id=2,
                )
                vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14)
                text = Gemma3ForConditionalGeneration(Gemma3Config(text_config=text_config, vision_config=vision, mm_tokens_per_image=4))
                # diffusers' defaults for these classes are LTX-2's (48 blocks, 4096-wide video and
                # 2048-wide audio streams, 128-channel video VAE, 24 kHz vocoder).
                pipe = LTX2Pipeline(
                    scheduler=FlowMatchEulerDiscreteScheduler(),
                    # The class derives 64x / 16x from its four scaling flags, but its blocks
                    # (spatial, temporal, two spatio-temporal, patch 4) compress 32x32 by 8x,
                    # as LTX-2 does; the pipeline sizes latents from these two numbers.
                    vae=AutoencoderKLLTX2Video(spatial_compression_ratio=32, temporal_compression_ratio=8),
                    audio_vae=AutoencoderKLLTX2Audio(),
                    text_encoder=text,
                    tokenizer=tokenizer,
                    connectors=LTX2TextConnectors(text_proj_in_factor=text_config.num_hidden_layers + 1),
                    transformer=LTX2VideoTransformer3DModel(num_layers=layers or 48),
                    vocoder=LTX2Vocoder(),
                )
            else:
                raise SystemExit(f"--real-size-config knows {', '.join(REAL_SIZE)}, not {preset}")
        finally:
            torch.set_default_dtype(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.eval()  # built fresh, in training mode: dropout would make two same-seed calls differ
    return pipe


def real_size_call_kwargs(preset: str, layers: int | None) -> dict:
    """Extra __call__ arguments for a real-size build: LTX-2's guidance block must exist when blocks are cut."""
    if preset == "ltx-2" and layers is not None:
        return {"spatio_temporal_guidance_blocks": [min(28, layers - 1)]}
    return {}


def parameter_counts(preset: str) -> dict[str, int]:
    """Parameters per component of the real-size build, counted on the meta device (nothing allocated)."""
    import torch

    pipe = real_size_pipeline(preset, "meta", torch.bfloat16)
    return {
        name: sum(p.numel() for p in module.parameters())
        for name, module in pipe.components.items()
        if isinstance(module, torch.nn.Module)
    }


def generator_for(pipe, preset: str, device: str, options, *, layers: int | None = None, compile_cache_dir=None):
    """Apply ``options`` to a built pipeline and wrap it like a loaded preset (video only)."""
    import dataclasses

    from gen.pipelines.base import VideoGenerator
    from gen.pipelines.options import apply_options
    from gen.pipelines.registry import get_preset

    spec = get_preset(preset)
    extra = real_size_call_kwargs(preset, layers)
    if extra:
        spec = dataclasses.replace(spec, call_kwargs={**spec.call_kwargs, **extra})
    tokens = PATH_CHECK_TEXT_TOKENS.get(preset, 32)
    if layers is not None and spec.max_sequence_length > tokens:
        # A path check on a CPU: prompts of up to 1024 tokens (LTX-2) through the real-width
        # text stack would take minutes per call and measure nothing of interest.
        spec = dataclasses.replace(spec, max_sequence_length=tokens)
    applied = apply_options(pipe, options, device, compile_cache_dir=compile_cache_dir)
    applied["sound"] = "silent track (real-size bench measures video)" if spec.family != "ltx2" else "joint (the video model makes it)"
    return VideoGenerator(pipe, spec, device, options=options.__class__(**{**_fields(options), "sound": "silent"}), applied=applied)


def real_size_generator(preset: str, device: str, options, *, layers: int | None = None):
    """A random-weight pipeline with the real model's transformer and VAE, wrapped like a loaded preset."""
    pipe = real_size_pipeline(preset, device, options.torch_dtype(device), layers=layers)
    return generator_for(pipe, preset, device, options, layers=layers)


def _fields(options) -> dict:
    return {name: getattr(options, name) for name in options.__struct_fields__}


# --- main ----------------------------------------------------------------------------


def describe_machine(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cores = os.cpu_count()
    try:
        load = ", load average %.1f" % os.getloadavg()[0]
    except OSError:
        load = ""
    return f"CPU ({platform.processor() or platform.machine()}), {cores} cores, {torch.get_num_threads()} torch threads{load}, torch {torch.__version__}"


def fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 64x64; real-size configs: the model's native size)")
    ap.add_argument("--frames", type=int, default=None, help="frames per clip (default 9; real-size: 121 LTX, 81 Wan)")
    ap.add_argument("--steps", type=int, default=None, help="denoising steps (default: 4 tiny, 30 real-size)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cache", default="first_block", choices=["none", "first_block", "pab"], help="cache hook on the worker path")
    ap.add_argument("--cache-threshold", type=float, default=0.1, help="First Block Cache threshold (0.1 is a common video setting)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the transformer's blocks (CUDA; the plain call shares the transformer, so it runs compiled too)")
    ap.add_argument("--attention", default="native", help="diffusers attention backend (native, flash, _native_cudnn, sage, ...; shared: the plain call runs it too)")
    ap.add_argument("--quantize", default="none", choices=["none", "int8_weight", "int8", "fp8"], help="torchao quantisation of the transformer (shared: the plain call runs it too)")
    ap.add_argument("--cfg-batch", action="store_true", help="batch the two guidance passes (Wan; LTX pipelines already do)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default); both paths share it")
    ap.add_argument("--models", type=Path, default=None, help="models root (default: a temporary folder)")
    ap.add_argument("--real-size-config", action="store_true", help="random-weight real-size configs (ltx-video, wan2.1-t2v-1.3b, ltx-2)")
    ap.add_argument("--layers", type=int, default=None, help="with --real-size-config: build only N transformer blocks (CPU path check)")
    args = ap.parse_args(argv)

    import torch

    from gen.pipelines.options import GenOptions
    from gen.pipelines.registry import load_generator

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    options = GenOptions(
        cache=args.cache, cache_threshold=args.cache_threshold, compile=args.compile, threads=args.threads,
        attention=args.attention, quantize=args.quantize, cfg_batch=args.cfg_batch,
    )
    if args.real_size_config:
        if args.preset not in REAL_SIZE:
            raise SystemExit(f"--real-size-config knows {', '.join(REAL_SIZE)}, not {args.preset}")
        counts = parameter_counts(args.preset)
        print(f"{args.preset} real-size config, parameters (meta device): "
              + ", ".join(f"{k} {v / 1e6:,.0f} M" for k, v in counts.items()) + f"; total {sum(counts.values()) / 1e9:.2f} B")
        if not device.startswith("cuda") and args.layers is None:
            print("--real-size-config: no GPU in this run, so nothing was measured at real size "
                  "(add --layers N to run the real widths with N transformer blocks as a path check).")
            return 0
        size = args.size or REAL_SIZE[args.preset]
        frames = args.frames or REAL_FRAMES[args.preset]
        steps = args.steps or 30
        gen = real_size_generator(args.preset, device, options, layers=args.layers)
        if args.layers is not None:
            print(f"PATH CHECK: real widths, {args.layers} transformer block(s) instead of the real count; not a real-size figure")
    else:
        size, frames, steps = args.size or "64x64", args.frames or 9, args.steps or 4
        tmp = None
        root = args.models
        if root is None:
            tmp = tempfile.TemporaryDirectory(prefix="fabula-bench-gen-")
            root = Path(tmp.name)
        t0 = time.perf_counter()
        gen = load_generator(args.preset, root, device=device, options=options)
        print(f"loaded {args.preset} in {time.perf_counter() - t0:.2f} s (builds the tiny model when absent)")
    width, height = (int(x) for x in size.lower().split("x"))

    print(f"machine: {describe_machine(device)}")
    print(f"preset {gen.preset} ({gen.spec.family}), {width}x{height}, {frames} frames at {gen.fps} fps, {steps} steps, {args.runs} runs each")
    print("worker options: " + ", ".join(f"{k}={v}" for k, v in gen.applied.items()))

    plain, worker, video_only = Runs("plain pipe(...)"), Runs("worker generate_clip"), Runs("worker generate (video only)")
    preview_ms: list[float] = []
    seeds = iter(range(1, 10_000))
    # Warm-up: first calls pay one-off costs (kernel selection, compile, allocator).
    for _ in range(2 if args.compile else 1):
        plain_call(gen, width, height, frames, steps, next(seeds), Runs("warm"))
        worker_call(gen, width, height, frames, steps, next(seeds), Runs("warm"), sound=True, preview_ms=[])
    diffs: list[float] = []
    for r in range(args.runs):
        order = [0, 1, 2] if r % 2 == 0 else [2, 1, 0]
        seed = next(seeds)
        out = {}
        for which in order:
            gc.collect()
            if which == 0:
                out[0] = plain_call(gen, width, height, frames, steps, seed, plain)
            elif which == 1:
                out[1] = worker_call(gen, width, height, frames, steps, seed, worker, sound=True, preview_ms=preview_ms)
            else:
                out[2] = worker_call(gen, width, height, frames, steps, seed, video_only, sound=False, preview_ms=preview_ms)
        diffs.append(float(np.abs(out[2].astype(np.int16) - out[0].astype(np.int16)).mean()))

    rows = {r.name: r.row(steps, frames) for r in (plain, worker, video_only)}
    cols = ["s/run", "steps/s", "frames/s", "first preview s", "peak MB"]
    name_w = max(len(n) for n in rows) + 2
    print()
    print("| path".ljust(name_w + 2) + " | " + " | ".join(cols) + " |")
    print("|" + "-" * (name_w + 1) + "|" + "|".join("-" * (len(c) + 2) for c in cols) + "|")
    for name, row in rows.items():
        print(f"| {name}".ljust(name_w + 2) + " | " + " | ".join(fmt(row[c]).rjust(len(c)) for c in cols) + " |")
    base = rows["plain pipe(...)"]
    print()
    for name in ("worker generate_clip", "worker generate (video only)"):
        row = rows[name]
        print(f"{name} / plain: frames/s x{row['frames/s'] / base['frames/s']:.2f}, steps/s x{row['steps/s'] / base['steps/s']:.2f}")
    print(f"worker frames vs plain frames (same seed): mean |difference| {statistics.mean(diffs):.3f} of 255 "
          f"({'identical' if max(diffs) == 0 else 'the cache hook trades exactness for speed'})")
    print(
        f"preview render (latents -> JPEG, 4 frames at 256 px): median {statistics.median(preview_ms):.2f} ms, "
        f"max {max(preview_ms):.2f} ms; {statistics.median(preview_ms) / 1000 / (statistics.median(plain.to_last_step) / steps) * 100:.1f}% of a step"
    )
    playback = frames / gen.fps
    print(f"playback length {playback:.3f} s; worker makes it in {rows['worker generate_clip']['s/run']:.3f} s "
          f"({'faster' if rows['worker generate_clip']['s/run'] < playback else 'slower'} than playback)")
    goal = rows["worker generate_clip"]["frames/s"] / base["frames/s"]
    if args.layers is not None:
        print(f"PATH CHECK ({args.layers} block(s) of the real config): goals are not judged from it (x{goal:.2f})")
    else:
        print(f"goal worker >= 1.5x plain frames/s: {'met' if goal >= 1.5 else 'NOT met'} (x{goal:.2f})")
        print(f"goal first preview <= 1 s: {'met' if rows['worker generate_clip']['first preview s'] <= 1.0 else 'NOT met'}")
    if not torch.cuda.is_available():
        print("no GPU was available in this run: real-size LTX and Wan configs were not measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
