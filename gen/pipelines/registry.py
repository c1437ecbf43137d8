"""Model presets and the one way they are loaded.

Owns the table of presets (:data:`PRESETS`), finding each preset's weights on
local disk, building the tiny preset when it is absent, and loading any of
them through ``LTXPipeline.from_pretrained`` onto a device. Nothing here ever
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

from gen.pipelines.base import Preset, VideoGenerator
from gen.pipelines.tiny import TINY_BUILD_VERSION, build_tiny_ltx

BUILD_MARKER = "fabula-build.json"
# Temp folders older than this were left by a builder that died mid-build.
ABANDONED_AFTER_S = 3600

LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
LTX_HUB_ID = "Lightricks/LTX-Video"
LTX_COMPONENTS = ("model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*", "transformer/*", "vae/*")

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        description="LTX-Video architecture at toy size with random weights (tests, CPU dev)",
        folder="tiny-ltx",
        build=build_tiny_ltx,
        build_version=TINY_BUILD_VERSION,
        fps=8,
        default_steps=4,
        max_side=1024,
    ),
    "ltx-video": Preset(
        name="ltx-video",
        description="Lightricks LTX-Video (diffusers format)",
        folder="ltx-video",
        hub_id=LTX_HUB_ID,
        fps=24,
        default_steps=50,
        max_side=1280,
        negative_prompt=LTX_NEGATIVE_PROMPT,
        decode_timestep=0.03,
        decode_noise_scale=0.025,
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
    try:
        return PRESETS[preset]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model preset {preset!r}; known presets: {', '.join(sorted(PRESETS))}") from None


def load_generator(preset: str, models_root: Path, device: str | None = None) -> VideoGenerator:
    """Load ``preset`` from ``models_root`` onto ``device`` (cuda if available, else cpu).

    bf16 on CUDA, float32 elsewhere. The tiny preset is built first if its
    folder is absent or was built by another version.
    """
    spec = get_preset(preset)
    source = locate(spec, Path(models_root))
    device = device or default_device()

    import torch
    from diffusers import LTXPipeline

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    with warnings.catch_warnings():
        # diffusers renamed torch_dtype to dtype; the old name works across the supported range.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            pipe = LTXPipeline.from_pretrained(source, torch_dtype=dtype, local_files_only=True)
        except (OSError, ValueError) as exc:
            if spec.build is not None:
                raise
            raise ModelMissing(spec.name, Path(models_root) / spec.folder, f"{_fetch_hint(spec, Path(models_root))} (load failed: {exc})") from exc
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return VideoGenerator(pipe, spec, device)


def locate(spec: Preset, models_root: Path) -> str:
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


def _fetch_hint(spec: Preset, models_root: Path) -> str:
    folder = models_root / spec.folder
    if spec.hub_id is None:
        return f"Put a diffusers save_pretrained folder at {folder}."
    include = " ".join(f'"{pattern}"' for pattern in LTX_COMPONENTS)
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
