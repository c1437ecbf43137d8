"""Model presets and the one way they are loaded.

Owns the table of presets (:data:`PRESETS`, chosen by ``FABULA_MODEL`` or a
request's ``model``: each one the rules of ``gen.pipelines.presets`` plus
how it is loaded and sampled) and of the sound models some of them use
(:data:`SOUND_PRESETS`), finding each one's weights on local disk, building
the tiny ones when they are absent, and loading any of them through
``<PipelineClass>.from_pretrained`` onto a device with the
:class:`~gen.pipelines.options.GenOptions` applied. Nothing here ever
downloads: a real model that is not on disk raises :class:`ModelMissing`
saying what to fetch and where to put it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from gen.pipelines.base import Preset, SoundPreset, VideoGenerator
from gen.pipelines.families import get_family
from gen.pipelines.options import COMPILE_CACHE, GenOptions, apply_options
from gen.pipelines.presets import RULES, get_rules
from gen.pipelines.tiny import (
    TINY_AUDIO_BUILD_VERSION,
    TINY_BUILD_VERSION,
    TINY_LTX2_BUILD_VERSION,
    TINY_WAN_BUILD_VERSION,
    build_tiny_ltx,
    build_tiny_ltx2,
    build_tiny_stable_audio,
    build_tiny_wan,
)

__all__ = ["PRESETS", "SOUND_PRESETS", "GenOptions", "ModelMissing", "get_preset", "load_generator", "load_sound"]

BUILD_MARKER = "fabula-build.json"
# Temp folders older than this were left by a builder that died mid-build.
ABANDONED_AFTER_S = 3600
# Fitted preview projections of real models, under the models root.
PREVIEW_CACHE = ".preview"

LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
WAN_NEGATIVE_PROMPT = (
    "bright tones, overexposed, static, blurred details, subtitles, worst quality, low quality, JPEG artifacts, "
    "ugly, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, fused fingers, "
    "still picture, messy background, many people in the background, walking backwards"
)
LTX_HUB_ID = "Lightricks/LTX-Video"
LTX_COMPONENTS = ("model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*", "transformer/*", "vae/*")
LTX2_COMPONENTS = LTX_COMPONENTS + ("connectors/*", "audio_vae/*", "vocoder/*")
WAN_COMPONENTS = LTX_COMPONENTS
STABLE_AUDIO_COMPONENTS = (
    "model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*", "transformer/*", "vae/*", "projection_model/*",
)

# Tiny LTX-2's guidance: plain classifier-free guidance (its two blocks have
# no spatio-temporal guidance layer 28, and modality isolation would only add passes).
_TINY_LTX2_CALL = dict(
    stg_scale=0.0,
    audio_stg_scale=0.0,
    spatio_temporal_guidance_blocks=None,
    modality_scale=1.0,
    audio_modality_scale=1.0,
    guidance_rescale=0.0,
    audio_guidance_rescale=0.0,
    audio_guidance_scale=3.0,
    use_cross_timestep=False,
)

_TINY_LTX2 = dict(
    pipeline_class="LTX2Pipeline",
    folder="tiny-ltx2",
    build=build_tiny_ltx2,
    build_version=TINY_LTX2_BUILD_VERSION,
    max_sequence_length=64,
    call_kwargs=_TINY_LTX2_CALL,
)

PRESETS: dict[str, Preset] = {
    "tiny": Preset.on(RULES["tiny"], **_TINY_LTX2),
    "tiny-ltx2": Preset.on(RULES["tiny-ltx2"], **_TINY_LTX2),
    "tiny-ltx": Preset.on(
        RULES["tiny-ltx"],
        pipeline_class="LTXPipeline",
        folder="tiny-ltx",
        build=build_tiny_ltx,
        build_version=TINY_BUILD_VERSION,
    ),
    "tiny-wan": Preset.on(
        RULES["tiny-wan"],
        pipeline_class="WanPipeline",
        folder="tiny-wan",
        build=build_tiny_wan,
        build_version=TINY_WAN_BUILD_VERSION,
        guidance_scale=5.0,
        max_sequence_length=64,
    ),
    "ltx-2": Preset.on(
        RULES["ltx-2"],
        pipeline_class="LTX2Pipeline",
        folder="ltx-2",
        hub_id="Lightricks/LTX-2",
        hub_include=LTX2_COMPONENTS,
        guidance_scale=4.0,
        negative_prompt=LTX_NEGATIVE_PROMPT,
        max_sequence_length=1024,
    ),
    "ltx-video": Preset.on(
        RULES["ltx-video"],
        pipeline_class="LTXPipeline",
        folder="ltx-video",
        hub_id=LTX_HUB_ID,
        hub_include=LTX_COMPONENTS,
        negative_prompt=LTX_NEGATIVE_PROMPT,
        decode_timestep=0.03,
        decode_noise_scale=0.025,
    ),
    "wan2.1-t2v-1.3b": Preset.on(
        RULES["wan2.1-t2v-1.3b"],
        pipeline_class="WanPipeline",
        folder="wan2.1-t2v-1.3b",
        hub_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
        hub_include=WAN_COMPONENTS,
        guidance_scale=5.0,
        negative_prompt=WAN_NEGATIVE_PROMPT,
        max_sequence_length=512,
        vae_fp32=True,
    ),
    "wan2.2-ti2v-5b": Preset.on(
        RULES["wan2.2-ti2v-5b"],
        pipeline_class="WanPipeline",
        folder="wan2.2-ti2v-5b",
        hub_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        hub_include=WAN_COMPONENTS,
        guidance_scale=5.0,
        negative_prompt=WAN_NEGATIVE_PROMPT,
        max_sequence_length=512,
        vae_fp32=True,
    ),
}

SOUND_PRESETS: dict[str, SoundPreset] = {
    "tiny-audio": SoundPreset(
        name="tiny-audio",
        description="Stable Audio classes at toy size with random weights (16 kHz stereo)",
        folder="tiny-stable-audio",
        build=build_tiny_stable_audio,
        build_version=TINY_AUDIO_BUILD_VERSION,
        default_steps=4,
    ),
    "stable-audio-open": SoundPreset(
        name="stable-audio-open",
        description="Stability AI Stable Audio Open 1.0 (44.1 kHz stereo, up to 47 s)",
        folder="stable-audio-open-1.0",
        hub_id="stabilityai/stable-audio-open-1.0",
        hub_include=STABLE_AUDIO_COMPONENTS,
        default_steps=100,
    ),
}


class ModelMissing(Exception):
    """A preset's weights are not on this machine (and will not be downloaded)."""

    def __init__(self, preset: str, path: Path, hint: str) -> None:
        self.preset = preset
        self.path = Path(path)
        self.hint = hint
        super().__init__(f"model preset {preset!r} is not installed: nothing loadable at {self.path}. {hint}")


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def get_preset(preset: str) -> Preset:
    """The preset named ``preset``; ValueError listing the known ones otherwise."""
    return PRESETS[get_rules(preset).name]


def load_generator(
    preset: str,
    models_root: Path,
    device: str | None = None,
    *,
    options: GenOptions | None = None,
) -> VideoGenerator:
    """Load ``preset`` from ``models_root`` onto ``device`` (cuda if available, else cpu).

    ``options`` (default ``GenOptions()``: bf16 on CUDA, float32 elsewhere,
    SDPA, no cache hook, no compile, no offload) are applied once here; what
    happened to each is in ``generator.applied``. Tiny presets are built first
    if their folder is absent or was built by another version. A preset whose
    model makes no sound also loads its sound model (unless ``options.sound``
    is "silent"); a missing one raises ModelMissing like a missing video model.
    """
    options = options or GenOptions()
    spec = get_preset(preset)
    root = Path(models_root)
    source = locate(spec, root)
    device = device or default_device()

    import diffusers
    import torch

    dtype = options.torch_dtype(device)
    pipe = _from_pretrained(getattr(diffusers, spec.pipeline_class), source, dtype, spec, root)
    if spec.vae_fp32 and dtype != torch.float32 and getattr(pipe, "vae", None) is not None:
        pipe.vae.to(torch.float32)
    pipe.set_progress_bar_config(disable=True)
    applied = apply_options(pipe, options, device, compile_cache_dir=root / COMPILE_CACHE)

    family = get_family(spec.family)
    sound = None
    if family.joint_audio:
        applied["sound"] = "joint (the video model makes it)"
    elif options.sound == "silent" or spec.sound is None:
        applied["sound"] = "silent track"
    else:
        sound = load_sound(spec.sound, root, device, options=options)
        applied["sound"] = f"{sound.name} ({sound.sample_rate} Hz)"

    generator = VideoGenerator(pipe, spec, device, options=options, sound=sound, applied=applied)
    generator.applied["steps"] = f"{generator.default_steps} when a job names none" + ("" if options.steps else " (the preset's)")
    projection = _preview_projection(generator, root, source, options)
    generator.projection = projection
    generator.applied["preview"] = f"{projection.source} projection" + (f" (r2 {projection.r2})" if projection.r2 is not None else "")
    return generator


def load_sound(name: str, models_root: Path, device: str | None = None, *, options: GenOptions | None = None):
    """Load the sound preset ``name`` (a StableAudioPipeline) as a SoundGenerator."""
    from gen.pipelines.sound import SoundGenerator

    options = options or GenOptions()
    try:
        spec = SOUND_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown sound preset {name!r}; known: {', '.join(sorted(SOUND_PRESETS))}") from None
    root = Path(models_root)
    silent_hint = " Or set FABULA_GEN_SOUND=silent to write silent sound tracks."
    try:
        source = locate(spec, root)
    except ModelMissing as exc:
        raise ModelMissing(exc.preset, exc.path, exc.hint + silent_hint) from None
    device = device or default_device()

    import diffusers

    dtype = options.torch_dtype(device)
    pipe = _from_pretrained(diffusers.StableAudioPipeline, source, dtype, spec, root, extra_hint=silent_hint)
    pipe.set_progress_bar_config(disable=True)
    if options.offload == "model" and str(device).startswith("cuda"):
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    return SoundGenerator(pipe, spec.name, device, default_steps=spec.default_steps, guidance_scale=spec.guidance_scale)


def _from_pretrained(cls: Any, source: str, dtype: Any, spec: Any, root: Path, extra_hint: str = "") -> Any:
    with warnings.catch_warnings():
        # diffusers renamed torch_dtype to dtype; the old name works across the supported range.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return cls.from_pretrained(source, torch_dtype=dtype, local_files_only=True)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            if spec.build is not None:
                raise
            hint = f"{_fetch_hint(spec, root)}{extra_hint} (load failed: {exc})"
            raise ModelMissing(spec.name, root / spec.folder, hint) from exc


def _preview_projection(generator: VideoGenerator, root: Path, source: str, options: GenOptions):
    """The latent -> RGB projection for previews: stored with a built model, cached, fitted, or the fixed one."""
    from gen.preview_render import PREVIEW_FILE, fit_projection, fixed_projection, read_projection, register_projection

    spec, pipe, family = generator.spec, generator.pipe, generator.family
    channels = _latent_channels(pipe)
    candidates = [Path(source) / PREVIEW_FILE, root / PREVIEW_CACHE / f"{spec.name}.json"]
    projection = None
    for path in candidates:
        found = read_projection(path) if path.is_file() else None
        if found is not None and found.channels == channels:
            projection = found
            break
    if projection is None and options.preview_fit and spec.build is None:
        try:
            import torch

            vae = pipe.vae
            device = next(vae.parameters()).device
            projection = fit_projection(
                lambda z: family.decode(pipe, z, spec.decode_timestep),
                (channels, 2, 16, 16),
                samples=4,
                device=str(device),
                dtype=vae.dtype if vae.dtype != torch.float32 else None,
            )
            try:
                projection.save(candidates[1])
            except OSError:
                pass  # read-only models root: fit again next load
        except Exception:  # a preview is never worth failing a load over
            projection = None
    if projection is None:
        projection = fixed_projection(channels)
    register_projection(spec.family, projection)
    return projection


def _latent_channels(pipe: Any) -> int:
    config = pipe.vae.config
    for name in ("latent_channels", "z_dim"):
        value = getattr(config, name, None)
        if value:
            return int(value)
    return int(pipe.transformer.config.out_channels)


def locate(spec: Any, models_root: Path) -> str:
    """Where ``spec``'s pipeline is: a local folder, or a hub id already in the local cache."""
    folder = models_root / spec.folder
    if spec.build is not None:
        ensure_built(folder, spec.build, spec.build_version)
        return str(folder)
    if (folder / "model_index.json").is_file():
        return str(folder)
    if spec.hub_id is not None and _in_hub_cache(spec.hub_id):
        return spec.hub_id
    raise ModelMissing(spec.name, folder, _fetch_hint(spec, models_root))


def _fetch_hint(spec: Any, models_root: Path) -> str:
    folder = models_root / spec.folder
    if spec.hub_id is None:
        return f"Put a diffusers save_pretrained folder at {folder}."
    include = " ".join(f'"{pattern}"' for pattern in (spec.hub_include or LTX_COMPONENTS))
    return (
        f"Fetch {spec.hub_id} (diffusers format) on a machine with network access and put it at {folder}, e.g. "
        f"`hf download {spec.hub_id} --local-dir {folder} --include {include}`; "
        f"or have it in this machine's Hugging Face cache."
    )


def _in_hub_cache(hub_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(hub_id, "model_index.json")
    return isinstance(found, str)


def is_built(folder: Path, version: int) -> bool:
    """True when ``folder`` holds a complete pipeline built by ``version``."""
    try:
        marker = json.loads((folder / BUILD_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("version") == version and (folder / "model_index.json").is_file()


def ensure_built(folder: Path, build, version: int) -> None:
    """Build into a private temp folder, then rename it into place.

    Safe with several processes starting at once: each builds its own copy,
    the first rename wins, the others find a complete folder and drop theirs.
    A folder from another build version is moved aside and replaced.
    """
    if is_built(folder, version):
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    _sweep_abandoned(folder)
    tmp = folder.parent / f".{folder.name}.build-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        build(tmp)
        (tmp / BUILD_MARKER).write_text(json.dumps({"version": version}))
        if folder.exists() and not is_built(folder, version):
            _move_aside(folder)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not is_built(folder, version):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_aside(folder: Path) -> None:
    stale = folder.parent / f".{folder.name}.stale-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(folder, stale)
    except FileNotFoundError:
        return  # another process moved it first
    shutil.rmtree(stale, ignore_errors=True)


def _sweep_abandoned(folder: Path) -> None:
    cutoff = time.time() - ABANDONED_AFTER_S
    for pattern in (f".{folder.name}.build-*", f".{folder.name}.stale-*"):
        for leftover in folder.parent.glob(pattern):
            try:
                if leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)
            except FileNotFoundError:
                pass
