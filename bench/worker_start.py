"""Worker start: from process start to the first job's first preview, cold and warm.

Starts a fresh Python process per measurement, as a restarted worker would
be, and takes the time from just before the process is spawned to each
point the child reaches: imports done (torch, diffusers, the gen package),
pipeline ready (loaded from the models root, or built at real size with
random weights, options applied), first preview of the first job rendered
(the JPEG a swiper would see), and first job done. The child runs the job
the way the worker's generation path does (``VideoGenerator.generate`` with
a preview rendered at every step); queue pickup and upload are not in it.

Modes, one process each, in this order:

  * ``no-compile``: the options as they are by default;
  * ``compile-cold``: ``GenOptions(compile=True, compile_cache=True)`` with
    an empty cache folder: the first job pays the whole compile;
  * ``compile-warm``: the same, in a new process, with the folder the cold
    run filled (what a restarted worker gets).

Usage (from the repository root):
    .venv/bin/python bench/worker_start.py --preset tiny-ltx --threads 1
    python3 bench/worker_start.py --preset ltx-video --real-size-config --steps 30 --json out.json
    .venv/bin/python bench/worker_start.py --preset ltx-video --real-size-config --layers 1 \\
        --size 128x128 --frames 9 --steps 1 --threads 1        # CPU path check
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPT = "a red fox trots through fresh snow at sunrise, cinematic"
MODES = {
    "no-compile": {"compile": False, "compile_cache": False, "clear": False},
    "compile-cold": {"compile": True, "compile_cache": True, "clear": True},
    "compile-warm": {"compile": True, "compile_cache": True, "clear": False},
}


def child(config: dict) -> None:
    """The measured process: import, load or build, run one job; prints its marks as one JSON line."""
    marks: dict[str, float] = {}
    import torch  # noqa: F401
    import diffusers  # noqa: F401

    from gen.pipelines.options import GenOptions

    marks["imports"] = time.time()
    options = GenOptions(compile=config["compile"], compile_cache=config["compile_cache"], sound="silent", threads=config["threads"])
    device = config["device"]
    cache_dir = Path(config["cache_dir"])
    if config["real_size_config"]:
        import importlib.util

        spec = importlib.util.spec_from_file_location("fabula_bench_gen", BENCH_DIR / "gen.py")
        bg = importlib.util.module_from_spec(spec)
        sys.modules["fabula_bench_gen"] = bg
        spec.loader.exec_module(bg)
        pipe = bg.real_size_pipeline(config["preset"], device, options.torch_dtype(device), layers=config["layers"])
        gen = bg.generator_for(pipe, config["preset"], device, options, layers=config["layers"], compile_cache_dir=cache_dir)
    else:
        from gen.pipelines.registry import load_generator

        # The loader keeps the cache under <models root>/.compile-cache; cache_dir is that folder.
        gen = load_generator(config["preset"], Path(config["models"]), device=device, options=options)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    marks["ready"] = time.time()

    def on_latents(i: int, n: int, latents) -> None:
        if "first preview" not in marks:
            gen.render_preview(latents)
            marks["first preview"] = time.time()

    width, height = config["size"]
    gen.generate(PROMPT, width=width, height=height, num_frames=config["frames"], steps=config["steps"], seed=1, on_latents=on_latents)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    marks["job done"] = time.time()
    print("MARKS " + json.dumps({"marks": marks, "applied": {k: gen.applied.get(k) for k in ("compile", "compile_cache", "dtype")}}), flush=True)


def run_mode(name: str, config: dict, timeout: float) -> dict:
    start = time.time()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("MARKS ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"mode": name, "status": "failed", "reason": " / ".join(tail)[:400]}
    got = json.loads(lines[-1][len("MARKS "):])
    return {"mode": name, "status": "measured", **{k: v - start for k, v in got["marks"].items()}, "applied": got["applied"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--preset", default="tiny-ltx")
    ap.add_argument("--real-size-config", action="store_true")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--size", default=None)
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--models", type=Path, default=None, help="models root (default: a temporary folder; tiny presets are built there first)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated: {', '.join(MODES)}")
    ap.add_argument("--timeout", type=float, default=540.0, help="seconds allowed per process")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(json.loads(args.child))
        return 0

    import importlib.util

    spec = importlib.util.spec_from_file_location("fabula_bench_gen", BENCH_DIR / "gen.py")
    bg = importlib.util.module_from_spec(spec)
    sys.modules["fabula_bench_gen"] = bg  # its dataclasses look the module up there
    spec.loader.exec_module(bg)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.real_size_config:
        size = args.size or bg.REAL_SIZE[args.preset]
        frames, steps = args.frames or bg.REAL_FRAMES[args.preset], args.steps or 30
    else:
        size, frames, steps = args.size or "64x64", args.frames or 9, args.steps or 4
    width, height = (int(x) for x in size.lower().split("x"))
    tmp = tempfile.TemporaryDirectory(prefix="fabula-worker-start-")
    models = args.models or Path(tmp.name) / "models"
    if not args.real_size_config:
        from gen.pipelines.registry import get_preset, locate

        locate(get_preset(args.preset), Path(models))  # builds a tiny preset now, outside the timed processes
    cache_dir = (Path(models) / ".compile-cache") if not args.real_size_config else Path(tmp.name) / "compile-cache"
    config = {
        "preset": args.preset, "real_size_config": args.real_size_config, "layers": args.layers, "size": [width, height],
        "frames": frames, "steps": steps, "device": device, "threads": args.threads, "models": str(models), "cache_dir": str(cache_dir),
    }
    print(f"machine: {bg.describe_machine(device)}")
    what = ("real-size config" + (f", {args.layers} block(s): PATH CHECK, not a real-size figure" if args.layers else "")) if args.real_size_config else "preset weights"
    print(f"preset {args.preset} ({what}), {width}x{height} x {frames} frames, {steps} steps; one fresh process per mode")
    rows = []
    for name in [m.strip() for m in args.modes.split(",") if m.strip()]:
        if name not in MODES:
            raise SystemExit(f"unknown mode {name!r}; known: {', '.join(MODES)}")
        mode = MODES[name]
        if mode["clear"]:
            shutil.rmtree(cache_dir, ignore_errors=True)
        row = run_mode(name, {**config, **{k: mode[k] for k in ("compile", "compile_cache")}}, args.timeout)
        rows.append(row)
        if row["status"] == "measured":
            print(f"  {name}: imports {row['imports']:.2f} s, ready {row['ready']:.2f} s, first preview {row['first preview']:.2f} s, "
                  f"job done {row['job done']:.2f} s ({row['applied']})", flush=True)
        else:
            print(f"  {name}: {row['status']}: {row['reason']}", flush=True)
    print()
    print("| mode | imports s | pipeline ready s | first preview s | first job done s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        if row["status"] == "measured":
            print(f"| {row['mode']} | {row['imports']:.2f} | {row['ready']:.2f} | {row['first preview']:.2f} | {row['job done']:.2f} |")
        else:
            print(f"| {row['mode']} | {row['status']}: {row['reason']} | | | |")
    print("\ntimes from just before the process was spawned; goal: first preview <= 20 s warm for LTX-Video on one H100/H200")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": config, "machine": bg.describe_machine(device), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
