"""How a loaded pipeline is made fast: precision, attention, caching, compiling, offloading, quantising.

Owns :class:`GenOptions` (the settings, read from ``FABULA_GEN_*`` variables
by :meth:`GenOptions.from_env`) and :func:`apply_options`, which applies them
to a freshly loaded diffusers pipeline and reports, option by option, what
was applied and what was not (and why), so a worker can log it and a bench
can print it. Nothing is silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    import torch

ENV_PREFIX = "FABULA_GEN_"

Dtype = Literal["auto", "bfloat16", "float16", "float32"]
Cache = Literal["none", "first_block", "pab"]
Offload = Literal["none", "model", "sequential"]
Sound = Literal["model", "silent"]
Quantize = Literal["none", "int8_weight", "int8", "fp8"]

# Under the models root: torch.compile's on-disk caches (see GenOptions.compile_cache).
COMPILE_CACHE = ".compile-cache"
# FP8 matmuls need Ada or Hopper tensor cores (compute capability 8.9 and up).
FP8_MIN_CAPABILITY = (8, 9)
# The most denoising steps a job may run (the Videos API's bound on a job's own ``steps``).
MAX_STEPS = 100


_BOOLEANS = ("compile", "vae_tiling", "preview_fit", "compile_cache", "cfg_batch")


class GenOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Settings for loading and running a generation pipeline.

    dtype: "auto" is bfloat16 on CUDA and float32 elsewhere.
    attention: diffusers attention backend; "native" is PyTorch SDPA (flash /
        memory-efficient kernels on CUDA). Others ("flash", "sage",
        "_native_cudnn", ...) need their kernels installed.
    compile: torch.compile the transformer's repeated blocks (CUDA; the first
        job pays the compile time).
    cache: diffusers cache hook on the transformer: "first_block" (First
        Block Cache: skip the remaining blocks when the first block's residual
        changed less than ``cache_threshold`` since the last step), "pab"
        (Pyramid Attention Broadcast), or "none" (exact).
    offload: "model" moves whole components to the GPU only while they run;
        "sequential" streams layer by layer (slowest, least memory). CUDA only.
    vae_tiling: decode in tiles (large frames on small GPUs).
    prompt_cache: text embeddings kept for this many recent texts (the
        negative prompt is encoded once per process); 0 turns it off.
    sound: "model" makes sound with the preset's audio model; "silent" writes
        a silent track instead (for hosts without the audio weights).
    preview_fit: fit the latent -> RGB preview projection against the VAE on
        first load of a real model (one small decode, cached on disk).
    threads: torch CPU threads for this process (0: torch's default, one per
        core). On a CPU shared with other busy processes, 1 avoids OpenMP
        threads spinning against each other (docs/PERFORMANCE.md, Generation).
    compile_cache: keep torch.compile's caches (inductor FX graphs, AOTAutograd
        graphs, Triton kernels) in ``<models root>/.compile-cache`` so a
        restarted worker does not compile again; only with ``compile``.
    quantize: torchao quantisation of the transformer's linear layers:
        "int8_weight" (int8 weights, activations in the model dtype), "int8"
        (int8 weights and dynamically quantised int8 activations), "fp8"
        (float8 weights and activations; CUDA with compute capability 8.9+),
        or "none". Needs the ``torchao`` package; changes the output (see
        bench/gen_fidelity.py for by how much).
    cfg_batch: run the conditional and unconditional guidance passes as one
        batch of two. LTX-Video and LTX-2 pipelines already do; for Wan the
        two transformer calls of a step become one (gen.pipelines.cfg_batch).
    steps: denoising steps of a job that names none (0: the preset's own
        default). A deployment's trade of quality against time; a job's
        ``steps`` field still wins.

    Every default is the CPU path's and, until bench/gpu_run.sh has measured
    them, also the CUDA one's: compile, compile_cache, quantize and cfg_batch
    are off on every device.
    """

    dtype: Dtype = "auto"
    attention: str = "native"
    compile: bool = False
    cache: Cache = "none"
    cache_threshold: float = 0.05
    offload: Offload = "none"
    vae_tiling: bool = False
    prompt_cache: int = 16
    sound: Sound = "model"
    preview_fit: bool = True
    threads: int = 0
    compile_cache: bool = False
    quantize: Quantize = "none"
    cfg_batch: bool = False
    steps: int = 0

    def __post_init__(self) -> None:
        if self.cache_threshold < 0:
            raise ValueError(f"cache_threshold must be >= 0, got {self.cache_threshold}")
        if self.prompt_cache < 0:
            raise ValueError(f"prompt_cache must be >= 0, got {self.prompt_cache}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if not 0 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be 0 (the preset's default) to {MAX_STEPS}, got {self.steps}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GenOptions:
        """Options from ``FABULA_GEN_<FIELD>`` variables (e.g. FABULA_GEN_CACHE=first_block).

        Booleans take 1/0, true/false, yes/no, on/off. A bad value raises
        ValueError naming the variable.
        """
        env = os.environ if env is None else env
        raw: dict[str, Any] = {}
        for name in cls.__struct_fields__:
            key = ENV_PREFIX + name.upper()
            if key not in env:
                continue
            value = env[key].strip()
            if name in _BOOLEANS:
                lowered = value.lower()
                if lowered in ("1", "true", "yes", "on"):
                    raw[name] = True
                elif lowered in ("0", "false", "no", "off", ""):
                    raw[name] = False
                else:
                    raise ValueError(f"{key} must be a boolean (1/0, true/false), got {value!r}")
            else:
                raw[name] = value
        try:
            return msgspec.convert(raw, cls, strict=False)
        except (msgspec.ValidationError, ValueError) as exc:
            field = next((n for n in raw if n in str(exc)), None)
            where = f"{ENV_PREFIX}{field.upper()}" if field else "FABULA_GEN_*"
            raise ValueError(f"{where}: {exc}") from None

    def torch_dtype(self, device: str) -> torch.dtype:
        import torch

        if self.dtype == "auto":
            return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
        return getattr(torch, self.dtype)


def apply_options(pipe: Any, options: GenOptions, device: str, *, compile_cache_dir: Path | None = None) -> dict[str, str]:
    """Place ``pipe`` on ``device`` and apply ``options``; returns {option: what happened}.

    Call once, right after loading. The dtype is the loader's business (it
    goes to ``from_pretrained``); it is reported here. ``compile_cache_dir``
    is where ``options.compile_cache`` keeps torch.compile's caches (the
    loader passes ``<models root>/.compile-cache``).
    """
    import torch

    report: dict[str, str] = {}
    cuda = str(device).startswith("cuda")
    if options.threads:
        torch.set_num_threads(options.threads)
    report["threads"] = str(torch.get_num_threads())
    transformer = getattr(pipe, "transformer", None)
    report["dtype"] = str(getattr(transformer, "dtype", options.torch_dtype(device))).removeprefix("torch.")

    # Placement: offloading replaces .to(device).
    if options.offload != "none" and not cuda:
        pipe.to(device)
        report["offload"] = f"not applied: offloading needs a CUDA device (running on {device})"
    elif options.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
        report["offload"] = "model"
    elif options.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
        report["offload"] = "sequential"
    else:
        pipe.to(device)
        report["offload"] = "none"

    vae = getattr(pipe, "vae", None)
    if options.vae_tiling:
        if vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
            report["vae_tiling"] = "on"
        else:
            report["vae_tiling"] = "not applied: this VAE has no tiling"
    else:
        report["vae_tiling"] = "off"

    if options.attention != "native":
        if transformer is None or not hasattr(transformer, "set_attention_backend"):
            report["attention"] = "not applied: no transformer with selectable attention"
        else:
            try:
                transformer.set_attention_backend(options.attention)
                report["attention"] = options.attention
            except Exception as exc:  # missing kernels, unknown names: say so, keep SDPA
                report["attention"] = f"not applied ({type(exc).__name__}: {exc}); using native SDPA"
    else:
        report["attention"] = "native (torch SDPA)"

    report["quantize"] = _apply_quantize(transformer, options, device)
    # Before the cache hooks: they wrap whatever forward the transformer has then.
    from gen.pipelines.cfg_batch import enable_cfg_batch

    report["cfg_batch"] = enable_cfg_batch(pipe, options) if options.cfg_batch else "off"
    report["cache"] = _apply_cache(pipe, transformer, options)
    report["compile_cache"] = _apply_compile_cache(options, compile_cache_dir)

    if options.compile:
        if transformer is None:
            report["compile"] = "not applied: no transformer"
        elif getattr(transformer, "_repeated_blocks", None):
            transformer.compile_repeated_blocks(fullgraph=False, dynamic=None)
            report["compile"] = "repeated blocks (torch.compile, compiled on first run)"
        else:
            pipe.transformer = torch.compile(transformer)
            report["compile"] = "whole transformer (torch.compile, compiled on first run)"
    else:
        report["compile"] = "off"
    return report


def _apply_cache(pipe: Any, transformer: Any, options: GenOptions) -> str:
    if options.cache == "none":
        return "none"
    if transformer is None or not hasattr(transformer, "enable_cache"):
        return f"not applied: {type(transformer).__name__} takes no cache hooks"
    from diffusers.hooks import FirstBlockCacheConfig, PyramidAttentionBroadcastConfig

    if options.cache == "first_block":
        config = FirstBlockCacheConfig(threshold=options.cache_threshold)
    else:
        config = PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=(100, 800),
            current_timestep_callback=lambda: pipe.current_timestep,
        )
    try:
        transformer.enable_cache(config)
    except Exception as exc:  # a block class the hook does not know, too few blocks, ...
        if getattr(transformer, "is_cache_enabled", False):
            transformer.disable_cache()
        return f"not applied ({type(exc).__name__}: {exc})"
    if options.cache == "first_block":
        return f"first_block (threshold {options.cache_threshold})"
    return "pab"


def _apply_quantize(transformer: Any, options: GenOptions, device: str) -> str:
    """torchao quantisation of the transformer's linear layers, in place."""
    if options.quantize == "none":
        return "none"
    if transformer is None:
        return "not applied: no transformer"
    cuda = str(device).startswith("cuda")
    if options.quantize == "fp8":
        if not cuda:
            return f"not applied: float8 matmuls need a CUDA device with compute capability >= 8.9 (running on {device})"
        import torch

        capability = torch.cuda.get_device_capability(torch.device(device))
        if capability < FP8_MIN_CAPABILITY:
            return f"not applied: float8 matmuls need compute capability >= 8.9 (this GPU has {capability[0]}.{capability[1]})"
    try:
        import torchao
        from torchao.quantization import (
            Float8DynamicActivationFloat8WeightConfig,
            Int8DynamicActivationInt8WeightConfig,
            Int8WeightOnlyConfig,
            quantize_,
        )
    except ImportError as exc:
        return f"not applied: torchao is not installed ({exc})"
    import torch

    def eligible(module: Any, _fqn: str) -> bool:
        # float8 and int8 kernels want dimensions in multiples of 16; tiny layers gain nothing.
        return isinstance(module, torch.nn.Linear) and module.in_features % 16 == 0 and module.out_features % 16 == 0

    count = sum(1 for name, m in transformer.named_modules() if eligible(m, name))
    if not count:
        return "not applied: no linear layer with sides in multiples of 16"
    config = {
        "int8_weight": Int8WeightOnlyConfig,
        "int8": Int8DynamicActivationInt8WeightConfig,
        "fp8": Float8DynamicActivationFloat8WeightConfig,
    }[options.quantize]()
    try:
        quantize_(transformer, config, filter_fn=eligible)
    except Exception as exc:  # a kernel or layout this torch/torchao pair lacks: keep the model as loaded
        return f"not applied ({type(exc).__name__}: {exc})"
    return f"{options.quantize} ({count} linear layers, torchao {torchao.__version__})"


def _apply_compile_cache(options: GenOptions, cache_dir: Path | None) -> str:
    """Point torch.compile's on-disk caches at ``cache_dir`` (process-wide)."""
    if not options.compile_cache:
        return "off"
    if not options.compile:
        return "not applied: compile is off, so there is nothing to cache"
    if cache_dir is None:
        return "not applied: no folder given for it (the loader passes <models root>/.compile-cache)"
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"not applied: cannot create {cache_dir} ({exc})"
    files = sum(1 for p in cache_dir.rglob("*") if p.is_file())
    # Read by inductor (FX graph and AOTAutograd caches, autotuning) and by
    # Triton each time they look for a cached artefact, so setting them now,
    # before the first compiled run, is enough.
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir.resolve())
    os.environ["TRITON_CACHE_DIR"] = str((cache_dir / "triton").resolve())
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    if hasattr(functorch_config, "enable_autograd_cache"):
        functorch_config.enable_autograd_cache = True
    state = f"warm: {files} files" if files else "cold: empty"
    return f"{cache_dir} ({state})"
