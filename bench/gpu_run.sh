#!/usr/bin/env bash
# One device call: the generation measurements of docs/PERFORMANCE.md ("Generation").
#
# On one H100/H200, within about 9 minutes, for the real-size configs
# (random weights, real transformer and VAE configurations; see bench/gen.py):
#   1. LTX-Video 2B: every option against the plain diffusers call (bench/gen_fidelity.py):
#      frames/s ratio, PSNR and mean absolute difference, first preview;
#   2. Wan 2.1 1.3B: the same;
#   3. worker start, LTX-Video: process start -> first preview, no compile / compile
#      with a cold cache / compile with the warm cache (bench/worker_start.py);
#   4. LTX-2 (19B, joint sound): plain against the worker and its options;
#   5. Wan 2.1 1.3B at 832x480 x 81: first preview after the call starts (bench/gen.py);
#   6. LTX-Video at 768x512 x 121, 30 steps, compiled with FP8 weights: seconds per clip
#      against its 5.04 s of playback (the plain call shares those options there).
# Each step has its own time limit and the whole run a deadline; a step the
# deadline cuts is printed as "not run" with its reason. Figures go to $OUT:
# log.txt (everything printed) and one JSON per step.
#
# Usage, on the device machine (repository root; wheels for the packages its
# image lacks are carried in var/gpu-wheels):
#     bash bench/gpu_run.sh
# and here, the same code on this CPU at a tiny frame count with the real
# widths and one or two transformer blocks (a path check, no goal figures):
#     bash bench/gpu_run.sh --smoke
set -u -o pipefail

MODE=gpu
[ "${1:-}" = "--smoke" ] && MODE=smoke
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ "$MODE" = smoke ]; then
    PY=${PY:-.venv/bin/python}
    OUT=${OUT:-var/gpu-smoke}
    BUDGET=${BUDGET:-1500}
else
    PY=${PY:-python3}
    OUT=${OUT:?set OUT to the folder the figures go to}
    BUDGET=${BUDGET:-530}
fi
# ONLY=2,3 runs only those steps (numbered as above) and appends to the log: a rerun of what a limit cut.
ONLY=${ONLY:-}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
[ -z "$ONLY" ] && : >"$LOG"
STEP=0
START=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore

say() { echo "$*" | tee -a "$LOG"; }

# step NAME LIMIT_S COMMAND...: runs COMMAND with the smaller of LIMIT_S and what is left of the budget.
step() {
    local name=$1 limit=$2
    shift 2
    STEP=$((STEP + 1))
    name="$STEP. $name"
    if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$STEP,"* ]]; then
        return 0
    fi
    local left=$((BUDGET - ($(date +%s) - START)))
    if [ "$left" -lt 30 ]; then
        say "=== $name: not run: the run's ${BUDGET} s budget is spent"
        return 0
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    say "=== $name (limit ${limit} s, $(( $(date +%s) - START )) s into the run)"
    local t0=$(date +%s)
    timeout --signal=TERM --kill-after=10 "$limit" "$@" 2>&1 | grep --line-buffered -v -E "Failed to load .*torchao|is an Enum subclass|Unable to import .torchao|Loading (pipeline components|weights)|Writing model shards" | tee -a "$LOG"
    local rc=${PIPESTATUS[0]}
    local took=$(( $(date +%s) - t0 ))
    if { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && [ "$took" -ge "$limit" ]; then
        say "=== $name: stopped at its ${limit} s limit after ${took} s (figures above are what it finished)"
    elif [ "$rc" = 137 ]; then
        say "=== $name: killed after ${took} s (exit 137: SIGKILL, most likely out of memory)"
    else
        say "=== $name: exit $rc after ${took} s"
    fi
}

if [ "$MODE" = gpu ]; then
    # The device image has torch, transformers and accelerate; diffusers, msgspec,
    # torchao and ftfy travel as wheels.
    if ls var/gpu-wheels/*.whl >/dev/null 2>&1; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site var/gpu-wheels/*.whl 2>&1 | tail -2
        export PYTHONPATH=/tmp/site
    fi
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"
fi
$PY - <<'EOF' 2>&1 | grep -v -E "Failed to load|Enum subclass|Unable to import" | tee -a "$LOG"
import importlib, platform
out = [f"python {platform.python_version()}"]
for name in ("torch", "diffusers", "transformers", "torchao", "msgspec", "flash_attn", "sageattention"):
    try:
        out.append(f"{name} {importlib.import_module(name).__version__}")
    except Exception as exc:
        out.append(f"{name} absent ({type(exc).__name__})")
import torch
out.append(f"cuda {torch.cuda.is_available()}" + (f" ({torch.cuda.get_device_name(0)}, capability {torch.cuda.get_device_capability(0)})" if torch.cuda.is_available() else ""))
print("environment: " + ", ".join(out))
EOF

if [ "$MODE" = smoke ]; then
    say "SMOKE: CPU path check with the real widths and 1-2 transformer blocks, tiny frame count; no figure here is a goal figure"
    TINY=(--size 64x64 --frames 9 --steps 1 --threads 1)
    # Compile variants are left to worker_start here: compiling on these 2 cores takes minutes per variant.
    SWEEP=worker,attention=flash,attention=_native_cudnn,int8_weight,int8,fp8,cfg_batch,vae_tiling,first_block_0.1
    step "LTX-Video options (path check)" 300 $PY bench/gen_fidelity.py --preset ltx-video --real-size-config --layers 2 "${TINY[@]}" --variants $SWEEP --json "$OUT/ltx-video.json"
    step "Wan 2.1 1.3B options (path check)" 400 $PY bench/gen_fidelity.py --preset wan2.1-t2v-1.3b --real-size-config --layers 2 "${TINY[@]}" --variants worker,cfg_batch,first_block_0.1,int8_weight,fp8,attention=_native_cudnn,int8,vae_tiling --json "$OUT/wan.json"
    step "worker start, LTX-Video (path check)" 400 $PY bench/worker_start.py --preset ltx-video --real-size-config --layers 1 "${TINY[@]}" --json "$OUT/worker-start.json"
    # bfloat16: LTX-2's real-width VAE, connectors and text encoder hold 10 GB in float32 even with one block.
    step "LTX-2 options (path check)" 400 $PY bench/gen_fidelity.py --preset ltx-2 --real-size-config --layers 1 "${TINY[@]}" --frames 17 --dtype bfloat16 --variants worker,fp8,cfg_batch,first_block_0.1 --json "$OUT/ltx-2.json"
    step "Wan first preview (path check)" 200 $PY bench/gen.py --preset wan2.1-t2v-1.3b --real-size-config --layers 1 "${TINY[@]}" --runs 1 --cache none
else
    step "LTX-Video 768x512 x 121, 8 steps: every option" 160 $PY bench/gen_fidelity.py --preset ltx-video --real-size-config --steps 8 --variants all --json "$OUT/ltx-video.json"
    step "Wan 2.1 1.3B 832x480 x 33, 3 steps: every option" 130 $PY bench/gen_fidelity.py --preset wan2.1-t2v-1.3b --real-size-config --frames 33 --steps 3 --variants all --json "$OUT/wan.json"
    step "worker start, LTX-Video 768x512 x 121, 30 steps" 110 $PY bench/worker_start.py --preset ltx-video --real-size-config --steps 30 --timeout 100 --json "$OUT/worker-start.json"
    step "LTX-2 768x512 x 121, 4 steps" 100 $PY bench/gen_fidelity.py --preset ltx-2 --real-size-config --steps 4 --variants worker,fp8,compile,compile+fp8+cfg_batch,attention=_native_cudnn --json "$OUT/ltx-2.json"
    step "Wan 2.1 1.3B 832x480 x 81: first preview" 60 $PY bench/gen.py --preset wan2.1-t2v-1.3b --real-size-config --steps 2 --runs 1 --cache none
    step "LTX-Video 768x512 x 121, 30 steps, compile + fp8: real time" 70 $PY bench/gen.py --preset ltx-video --real-size-config --steps 30 --runs 1 --cache none --compile --quantize fp8
fi
say "=== done in $(( $(date +%s) - START )) s; figures in $OUT"
