"""One loaded text-to-video pipeline and the rules of the model behind it.

Owns :class:`Preset` (what a model preset is: where its weights live, its
playback rate, the sizes and frame counts it can make, its sampling defaults)
and :class:`VideoGenerator` (a diffusers pipeline loaded once per process and
reused for every job). Finding and loading weights is the registry's job;
this module only runs what it is given.

torch and diffusers are imported lazily so that reading a preset's rules (the
API validating a request, say) costs no model imports.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

StepCallback = Callable[[int, int], None]
LatentsCallback = Callable[[int, int, "torch.Tensor"], None]


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A named model: where its weights come from and how to drive it."""

    name: str
    description: str
    # Folder under the models root that holds a ``save_pretrained`` pipeline.
    folder: str
    # Hub id whose copy may already sit in the local Hugging Face cache
    # (never downloaded), or None for presets built locally.
    hub_id: str | None = None
    # Builds the pipeline into a folder (local presets only) and the version
    # of that build; a folder made by another version is rebuilt.
    build: Callable[[Path], None] | None = None
    build_version: int = 0
    fps: int
    default_steps: int
    size_multiple: int = 32
    # Frames are k * frame_multiple + 1 (LTX-Video: 8k + 1).
    frame_multiple: int = 8
    max_side: int = 1280
    guidance_scale: float = 3.0
    negative_prompt: str | None = None
    decode_timestep: float = 0.0
    decode_noise_scale: float | None = None


class VideoGenerator:
    """A loaded LTX-Video pipeline, reused across jobs.

    Not safe to call ``generate`` from two threads at once: a worker runs one
    job per generator at a time.
    """

    def __init__(self, pipe: Any, preset: Preset, device: str) -> None:
        self.pipe = pipe
        self.spec = preset
        self.preset: str = preset.name
        self.fps: int = preset.fps
        self.default_steps: int = preset.default_steps
        self.device = device
        self.temporal_compression: int = int(getattr(pipe, "vae_temporal_compression_ratio", preset.frame_multiple))
        self.spatial_compression: int = int(getattr(pipe, "vae_spatial_compression_ratio", preset.size_multiple))

    def __repr__(self) -> str:
        return f"VideoGenerator(preset={self.preset!r}, device={self.device!r})"

    def frame_count(self, seconds: int) -> int:
        """Frames in a clip of ``seconds`` at this model's fps, rounded up to the k*m+1 the model needs."""
        if seconds < 1:
            raise ValueError(f"seconds must be at least 1, got {seconds}")
        m = self.spec.frame_multiple
        body = -(-seconds * self.fps // m) * m
        return body + 1

    def check_size(self, width: int, height: int) -> None:
        """Raise ValueError unless this model can make ``width`` x ``height`` frames."""
        m, top = self.spec.size_multiple, self.spec.max_side
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            if value % m:
                raise ValueError(
                    f"{self.preset} makes {name}s that are multiples of {m} pixels; "
                    f"got {value} (nearest: {max(m, round(value / m) * m)})"
                )
            if value > top:
                raise ValueError(f"{self.preset} makes {name}s up to {top} pixels; got {value}")

    def check_frames(self, num_frames: int) -> None:
        """Raise ValueError unless the model returns exactly ``num_frames`` frames for that request."""
        t = self.temporal_compression
        if not isinstance(num_frames, int) or num_frames < 1 or (num_frames - 1) % t:
            raise ValueError(f"{self.preset} makes k*{t}+1 frames (e.g. {t + 1}, {2 * t + 1}); got {num_frames!r}")

    def generate(
        self,
        prompt: str,
        *,
        width: int,
        height: int,
        num_frames: int,
        steps: int,
        seed: int | None = None,
        on_step: StepCallback | None = None,
        on_latents: LatentsCallback | None = None,
    ) -> np.ndarray:
        """Run the pipeline; returns uint8 frames shaped (num_frames, height, width, 3).

        ``on_step(i, total)`` runs after denoising step ``i`` (1-based). An
        exception raised by it stops the run and propagates (job
        cancellation). ``on_latents(i, total, latents)`` (optional, for live
        previews) gets the first video's latents after step ``i``, unpacked to
        (channels, latent_frames, latent_height, latent_width) and still in
        the model's normalised latent space.
        """
        import torch

        self.check_size(width, height)
        self.check_frames(num_frames)
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if seed is None:
            seed = random.SystemRandom().randrange(2**63)
        # A CPU generator gives the same noise for a seed on every device.
        generator = torch.Generator(device="cpu").manual_seed(int(seed))

        pipe = self.pipe
        latent_shape = (
            (num_frames - 1) // self.temporal_compression + 1,
            height // self.spatial_compression,
            width // self.spatial_compression,
        )

        def step_end(_pipe: Any, i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            total = int(getattr(_pipe, "_num_timesteps", None) or steps)
            if on_latents is not None:
                packed = kwargs["latents"][:1]
                unpacked = _pipe._unpack_latents(
                    packed,
                    *latent_shape,
                    _pipe.transformer_spatial_patch_size,
                    _pipe.transformer_temporal_patch_size,
                )
                on_latents(i + 1, total, unpacked[0])
            if on_step is not None:
                on_step(i + 1, total)
            return {}

        wants_callback = on_step is not None or on_latents is not None
        result = pipe(
            prompt=prompt,
            negative_prompt=self.spec.negative_prompt,
            width=width,
            height=height,
            num_frames=num_frames,
            frame_rate=self.fps,
            num_inference_steps=steps,
            guidance_scale=self.spec.guidance_scale,
            decode_timestep=self.spec.decode_timestep,
            decode_noise_scale=self.spec.decode_noise_scale,
            generator=generator,
            output_type="np",
            callback_on_step_end=step_end if wants_callback else None,
            callback_on_step_end_tensor_inputs=["latents"] if on_latents is not None else [],
        )
        video = np.asarray(result.frames[0])
        if video.shape != (num_frames, height, width, 3):
            raise RuntimeError(f"{self.preset} returned frames shaped {video.shape}, expected {(num_frames, height, width, 3)}")
        return to_uint8(video)


def to_uint8(video: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] to uint8, rounding to nearest."""
    if video.dtype == np.uint8:
        return np.ascontiguousarray(video)
    out = np.clip(video, 0.0, 1.0) * 255.0
    return np.ascontiguousarray(np.rint(out).astype(np.uint8))
