"""Each generation option against the plain diffusers call: speed and fidelity.

For one model, size, frame count, step count and seed it runs the
out-of-the-box call (``pipe(prompt=..., negative_prompt=...)``, default
attention, no compile, no cache hook; bf16 on CUDA, float32 on CPU) and the
worker's path (``VideoGenerator.generate``: cached prompt embeddings, a JPEG
preview rendered at every step) once with the default options and once per
option or combination of options (attention backends, regional compile,
torchao int8 / FP8 weights, batched guidance, VAE tiling, First Block Cache,
...). Every variant gets its own copy of the transformer (and of the VAE
when it changes it), built from the same weights, so an in-place option
such as quantisation never leaks into the next one. Runs are interleaved
with the plain call, same seed, after warm-up calls.

For each variant it prints frames/s and denoising steps/s against the plain
call's, the first preview's time, and PSNR and mean absolute difference
(0-255 scale) of its frames against the plain call's frames, plus whether
they stay inside the fidelity bound (``FIDELITY_BOUND_DB``). An option this
host cannot run (CUDA-only kernels, a package that is not installed, a
pipeline that already does it) is printed as "not applicable here" with the
reason from ``apply_options``' report or from the failed run; nothing is
skipped silently.

Usage (from the repository root):
    .venv/bin/python bench/gen_fidelity.py --preset tiny-ltx --steps 2
    python3 bench/gen_fidelity.py --preset ltx-video --real-size-config --steps 8 --json out.json
    .venv/bin/python bench/gen_fidelity.py --preset ltx-video --real-size-config --layers 1 \\
        --size 128x128 --frames 9 --steps 1 --variants worker,int8_weight   # CPU path check
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import json
import math
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

# Frames within this PSNR of the plain call's count as faithful. An option
# that falls below it on the real weights stays off by default.
FIDELITY_BOUND_DB = 30.0

# name -> GenOptions fields it sets (on top of the worker defaults).
VARIANTS: dict[str, dict] = {
    "worker": {},
    "attention=flash": {"attention": "flash"},
    "attention=_flash_3": {"attention": "_flash_3"},
    "attention=_native_cudnn": {"attention": "_native_cudnn"},
    "attention=sage": {"attention": "sage"},
    "compile": {"compile": True},
    "int8_weight": {"quantize": "int8_weight"},
    "int8": {"quantize": "int8"},
    "fp8": {"quantize": "fp8"},
    "cfg_batch": {"cfg_batch": True},
    "vae_tiling": {"vae_tiling": True},
    "first_block_0.05": {"cache": "first_block", "cache_threshold": 0.05},
    "first_block_0.1": {"cache": "first_block", "cache_threshold": 0.1},
    "compile+cfg_batch": {"compile": True, "cfg_batch": True},
    "compile+fp8+cfg_batch": {"compile": True, "quantize": "fp8", "cfg_batch": True},
    "compile+fp8+cfg_batch+_native_cudnn": {"compile": True, "quantize": "fp8", "cfg_batch": True, "attention": "_native_cudnn"},
}


@dataclass(frozen=True)
class Fidelity:
    """How far ``out`` is from ``ref``: PSNR in dB (inf when identical) and mean/max absolute difference on 0-255."""

    psnr: float
    mad: float
    max_diff: int
    identical: bool


def fidelity(out: np.ndarray, ref: np.ndarray) -> Fidelity:
    """PSNR and mean absolute difference of uint8 frames ``out`` against ``ref`` (same shape)."""
    if out.shape != ref.shape:
        raise ValueError(f"frames of another shape: {out.shape} against {ref.shape}")
    diff = out.astype(np.int32) - ref.astype(np.int32)
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    psnr = math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
    return Fidelity(psnr=psnr, mad=float(np.mean(np.abs(diff))), max_diff=int(np.abs(diff).max(initial=0)), identical=mse == 0)


def _bench_gen():
    """bench/gen.py as a module (its name would clash with the ``gen`` package)."""
    spec = importlib.util.spec_from_file_location("fabula_bench_gen", BENCH_DIR / "gen.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fabula_bench_gen"] = module
    spec.loader.exec_module(module)
    return module


def _clone(pipe, deep: tuple[str, ...]):
    """A pipeline sharing ``pipe``'s modules except ``deep`` ones, which are copied."""
    components = dict(pipe.components)
    for name in deep:
        if components.get(name) is not None:
            components[name] = copy.deepcopy(components[name])
    out = type(pipe)(**components)
    out.set_progress_bar_config(disable=True)
    return out


class Builds:
    """Makes the plain reference and one generator per variant, all from the same weights."""

    def __init__(self, bg, args, device: str) -> None:
        from gen.pipelines.options import GenOptions

        from diffusers.models.attention_dispatch import _AttentionBackendRegistry

        self.bg, self.args, self.device = bg, args, device
        self.attention_backend = _AttentionBackendRegistry.get_active_backend()[0]
        self.base_options = GenOptions(sound="silent", threads=args.threads, dtype=args.dtype)
        self.cache_dir = Path(args.compile_cache_dir) if args.compile_cache_dir else None
        if args.real_size_config:
            import torch

            t0 = time.perf_counter()
            self.base_pipe = bg.real_size_pipeline(args.preset, device, self.base_options.torch_dtype(device), layers=args.layers)
            self.build_s = time.perf_counter() - t0
            self.plain = bg.generator_for(self.base_pipe, args.preset, device, self.base_options, layers=args.layers)
            self._torch = torch
        else:
            from gen.pipelines.registry import load_generator

            self._tmp = None
            root = args.models
            if root is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="fabula-bench-fidelity-")
                root = Path(self._tmp.name)
            self.root = Path(root)
            t0 = time.perf_counter()
            self.plain = load_generator(args.preset, self.root, device=device, options=self.base_options)
            self.build_s = time.perf_counter() - t0
            self.base_pipe = None

    def variant(self, fields: dict):
        import msgspec

        options = msgspec.structs.replace(self.base_options, **fields)
        if self.base_pipe is None:
            from gen.pipelines.registry import load_generator

            return load_generator(self.args.preset, self.root, device=self.device, options=options)
        deep = ("transformer",) + (("vae",) if fields.get("vae_tiling") else ())
        pipe = _clone(self.base_pipe, deep)
        return self.bg.generator_for(pipe, self.args.preset, self.device, options, layers=self.args.layers, compile_cache_dir=self.cache_dir)


def not_applicable(gen, fields: dict) -> str | None:
    """Why a variant cannot be measured here (from apply_options' report), or None."""
    for key in fields:
        if key == "cache_threshold":
            continue
        said = gen.applied.get(key, "")
        if said.startswith("not applied") or said.startswith("already batched"):
            return f"{key}: {said}"
    return None


def measure(builds: Builds, name: str, fields: dict, shape: tuple[int, int, int, int], runs: int, seed0: int) -> dict:
    bg, device = builds.bg, builds.device
    width, height, frames, steps = shape
    row: dict = {"variant": name, "options": fields}
    t0 = time.perf_counter()
    try:
        gen = builds.variant(fields)
    except Exception as exc:  # a build that fails here (memory, kernels) is reported, not fatal
        row.update(status="failed here", reason=f"building: {type(exc).__name__}: {exc}")
        return row
    row["apply s"] = time.perf_counter() - t0
    row["applied"] = {k: gen.applied.get(k) for k in fields if k != "cache_threshold"}
    why = not_applicable(gen, fields)
    if why is not None:
        row.update(status="not applicable here", reason=why)
        _drop(gen, builds)
        return row
    plain_runs, worker_runs = bg.Runs("plain"), bg.Runs(name)
    previews: list[float] = []
    first_frames: dict[str, np.ndarray] = {}
    try:
        t0 = time.perf_counter()
        for _ in range(2 if fields.get("compile") else 1):  # warm-up: compile, kernel choice, allocator
            bg.worker_call(gen, width, height, frames, steps, seed0, bg.Runs("warm"), sound=False, preview_ms=[])
        row["warm-up s"] = time.perf_counter() - t0
        for r in range(runs):
            seed = seed0 + r
            for which in ("plain", "worker") if r % 2 == 0 else ("worker", "plain"):
                gc.collect()
                if which == "plain":
                    out = bg.plain_call(builds.plain, width, height, frames, steps, seed, plain_runs)
                else:
                    out = bg.worker_call(gen, width, height, frames, steps, seed, worker_runs, sound=False, preview_ms=previews)
                if r == 0:
                    first_frames[which] = out
    except Exception as exc:  # kernels missing at run time (a backend set but not runnable here), out of memory, ...
        row.update(status="not applicable here", reason=f"run failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        if builds.args.verbose:
            traceback.print_exc()
        _drop(gen, builds)
        return row
    p, w = plain_runs.row(steps, frames), worker_runs.row(steps, frames)
    f = fidelity(first_frames["worker"], first_frames["plain"])
    row.update(
        status="measured",
        **{"plain s/run": p["s/run"], "worker s/run": w["s/run"]},
        **{"frames/s x plain": w["frames/s"] / p["frames/s"], "steps/s x plain": w["steps/s"] / p["steps/s"]},
        **{"first preview s": w["first preview s"], "plain first step s": p["first preview s"], "peak MB": w["peak MB"]},
        psnr=f.psnr, mad=f.mad, max_diff=f.max_diff, identical=f.identical, within_bound=f.psnr >= FIDELITY_BOUND_DB,
    )
    _drop(gen, builds)
    return row


def _drop(gen, builds: Builds) -> None:
    del gen
    # set_attention_backend also sets diffusers' process-wide active backend,
    # which every model without a backend of its own then uses: put it back.
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    _AttentionBackendRegistry.set_active_backend(builds.attention_backend)
    gc.collect()
    if builds.device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def print_rows(rows: list[dict]) -> None:
    print()
    print("| variant | status | frames/s ÷ plain | steps/s ÷ plain | s/run (plain → worker) | first preview s | PSNR dB | MAD /255 | within bound | note |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for row in rows:
        if row["status"] != "measured":
            print(f"| {row['variant']} | {row['status']} | | | | | | | | {row.get('reason', '')} |")
            continue
        psnr = "identical" if row["identical"] else f"{row['psnr']:.1f}"
        print(
            f"| {row['variant']} | measured | ×{row['frames/s x plain']:.2f} | ×{row['steps/s x plain']:.2f} | "
            f"{row['plain s/run']:.3g} → {row['worker s/run']:.3g} | {row['first preview s']:.3g} | {psnr} | {row['mad']:.3f} | "
            f"{'yes' if row['within_bound'] else 'NO'} | warm-up {row.get('warm-up s', 0):.1f} s |"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="tiny-ltx")
    ap.add_argument("--real-size-config", action="store_true", help="random-weight real-size configs (see bench/gen.py)")
    ap.add_argument("--layers", type=int, default=None, help="with --real-size-config: only N transformer blocks (CPU path check)")
    ap.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 64x64; real-size: the model's native size)")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--runs", type=int, default=1, help="interleaved plain/worker pairs per variant after the warm-up")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--variants", default="all", help=f"comma-separated, or 'all': {', '.join(VARIANTS)}")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"],
                    help="auto: bfloat16 on CUDA, float32 on CPU (bfloat16 halves a CPU path check's memory)")
    ap.add_argument("--models", type=Path, default=None, help="models root for tiny presets (default: a temporary folder)")
    ap.add_argument("--compile-cache-dir", default=None, help="where compile variants keep torch.compile's caches (real-size builds)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    import torch

    bg = _bench_gen()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    names = list(VARIANTS) if args.variants == "all" else [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if args.real_size_config:
        size = args.size or bg.REAL_SIZE[args.preset]
        frames = args.frames or bg.REAL_FRAMES[args.preset]
        steps = args.steps or 30
    else:
        size, frames, steps = args.size or "64x64", args.frames or 9, args.steps or 4
    width, height = (int(x) for x in size.lower().split("x"))

    builds = Builds(bg, args, device)
    print(f"machine: {bg.describe_machine(device)}")
    what = f"real-size config{f', {args.layers} block(s): PATH CHECK, not a real-size figure' if args.layers else ''}" if args.real_size_config else "preset weights"
    print(f"preset {args.preset} ({what}), {width}x{height} x {frames} frames, {steps} steps, seed {args.seed}, "
          f"{args.runs} interleaved run(s) per variant; built/loaded in {builds.build_s:.1f} s")
    print(f"plain call: pipe(prompt=..., negative_prompt=...), dtype {builds.plain.applied['dtype']}, native attention, no compile, no cache hook")
    # Warm the plain path once before any timing.
    bg.plain_call(builds.plain, width, height, frames, steps, args.seed, bg.Runs("warm"))

    meta = {"preset": args.preset, "real_size_config": args.real_size_config, "layers": args.layers, "size": size,
            "frames": frames, "steps": steps, "device": device, "machine": bg.describe_machine(device)}
    rows: list[dict] = []

    def stop(_signum, _frame):  # a time limit's SIGTERM: keep what was measured
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        for name in names:
            t0 = time.perf_counter()
            row = measure(builds, name, VARIANTS[name], (width, height, frames, steps), args.runs, args.seed)
            row["wall s"] = time.perf_counter() - t0
            rows.append(row)
            status = row["status"] if row["status"] != "measured" else f"frames/s x{row['frames/s x plain']:.2f}, PSNR {row['psnr']:.1f} dB, MAD {row['mad']:.3f}"
            print(f"  {name}: {status}{(' (' + row['reason'] + ')') if 'reason' in row else ''} [{row['wall s']:.1f} s]", flush=True)
            if args.json:  # after each variant, so a time limit loses only the one in progress
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))
    except KeyboardInterrupt:
        done = {row["variant"] for row in rows}
        print(f"stopped by its time limit; not run: {', '.join(n for n in names if n not in done)}", flush=True)
    print_rows(rows)
    print(f"\nfidelity bound: PSNR >= {FIDELITY_BOUND_DB:.0f} dB against the plain call's frames (random weights show numerical drift only; "
          "whether a cache hook skips steps depends on the trained weights)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
