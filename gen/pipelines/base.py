"""One loaded video pipeline and the rules of the model behind it.

Owns :class:`Preset` (a model preset: what it makes, the rules of
``gen.pipelines.presets``, plus where its weights live and its sampling
settings), :class:`Clip` (frames plus their sound track) and
:class:`VideoGenerator` (a diffusers pipeline loaded once per process and
reused for every job, with its image-conditioned twin, its sound model and
its prompt-embedding cache). Finding and loading weights is the
registry's job; this module only runs what it is given.

torch and diffusers are imported lazily, only when a pipeline runs.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from gen.audio import as_audio, fit_length, samples_for, silence
from gen.pipelines.cfg_batch import cfg_batcher
from gen.pipelines.families import Family, get_family
from gen.pipelines.options import GenOptions
from gen.pipelines.presets import PresetRules

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from gen.pipelines.sound import SoundGenerator
    from gen.preview_render import Projection

# Rate of the silent track written when no model makes sound.
SILENT_SAMPLE_RATE = 48000

StepCallback = Callable[[int, int], None]
LatentsCallback = Callable[[int, int, "torch.Tensor"], None]


@dataclass(frozen=True, kw_only=True)
class Preset(PresetRules):
    """A named model: its rules (``gen.pipelines.presets``), where its weights
    come from and how to drive it."""

    # diffusers pipeline class loaded with from_pretrained.
    pipeline_class: str = "LTXPipeline"
    # Folder under the models root that holds a ``save_pretrained`` pipeline.
    folder: str
    # Hub id whose copy may already sit in the local Hugging Face cache
    # (never downloaded), or None for presets built locally.
    hub_id: str | None = None
    # Files of the hub repo a diffusers load needs (for the fetch hint).
    hub_include: tuple[str, ...] = ()
    # Builds the pipeline into a folder (local presets only) and the version
    # of that build; a folder made by another version is rebuilt.
    build: Callable[[Path], None] | None = None
    build_version: int = 0
    guidance_scale: float = 3.0
    negative_prompt: str | None = None
    decode_timestep: float = 0.0
    decode_noise_scale: float | None = None
    max_sequence_length: int = 128
    # Other __call__ arguments this model wants (LTX-2's guidance knobs, ...).
    call_kwargs: Mapping[str, Any] = field(default_factory=dict)
    # Keep the VAE in float32 when the rest runs in half precision (Wan).
    vae_fp32: bool = False

    @classmethod
    def on(cls, rules: PresetRules, **how: Any) -> Preset:
        """The preset that makes what ``rules`` say, loaded and driven as ``how`` says."""
        return cls(**{f.name: getattr(rules, f.name) for f in fields(PresetRules)}, **how)


@dataclass(frozen=True, kw_only=True)
class SoundPreset:
    """A text-to-audio model used for the sound of presets whose model makes none."""

    name: str
    description: str
    folder: str
    hub_id: str | None = None
    hub_include: tuple[str, ...] = ()
    build: Callable[[Path], None] | None = None
    build_version: int = 0
    default_steps: int
    guidance_scale: float = 7.0


class Clip(msgspec.Struct, kw_only=True):
    """A finished clip: frames and the sound track that goes with them.

    frames: uint8 (F, H, W, 3). audio: float32 (channels, samples) in [-1, 1],
    exactly ``F / fps`` seconds at ``sample_rate``. Holds numpy arrays, so it
    is for passing around in-process, not for the wire.
    """

    frames: np.ndarray
    fps: int
    audio: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


class VideoGenerator:
    """A loaded video pipeline, reused across jobs.

    Not safe to call ``generate`` from two threads at once: a worker runs one
    job per generator at a time.
    """

    def __init__(
        self,
        pipe: Any,
        preset: Preset,
        device: str,
        *,
        options: GenOptions | None = None,
        sound: SoundGenerator | None = None,
        projection: Projection | None = None,
        applied: Mapping[str, str] | None = None,
    ) -> None:
        self.pipe = pipe
        self.spec = preset
        self.preset: str = preset.name
        self.fps: int = preset.fps
        self.device = device
        self.options = options or GenOptions()
        self.default_steps: int = self.options.steps or preset.default_steps
        self.family: Family = get_family(preset.family)
        self.sound = sound
        self.projection = projection
        # What load_generator did with each option (for logs and benches).
        self.applied: dict[str, str] = dict(applied or {})
        if pipe is None:
            self.temporal_compression, self.spatial_compression = preset.frame_multiple, preset.size_multiple
        else:
            self.temporal_compression, self.spatial_compression = self.family.compression(pipe, preset)
        self._image_pipe: Any = None
        self._embeddings: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VideoGenerator(preset={self.preset!r}, device={self.device!r})"

    # --- rules -----------------------------------------------------------

    @property
    def preview_family(self) -> str:
        """The family name ``gen.preview_render.render_preview`` takes for this model's latents."""
        return self.spec.family

    @property
    def makes_sound(self) -> bool:
        return self.family.joint_audio or self.sound is not None

    @property
    def sample_rate(self) -> int:
        """Rate of the sound track ``generate_clip`` returns."""
        if self.family.joint_audio and self.pipe is not None:
            return int(self.pipe.vocoder.config.output_sampling_rate)
        if self.sound is not None:
            return self.sound.sample_rate
        return SILENT_SAMPLE_RATE

    def frame_count(self, seconds: int) -> int:
        """Frames in a clip of ``seconds`` at this model's fps, rounded up to the k*m+1 the model needs."""
        return self.spec.frame_count(seconds)

    def check_size(self, width: int, height: int) -> None:
        """Raise ValueError unless this model can make ``width`` x ``height`` frames."""
        self.spec.check_size(width, height)

    def check_frames(self, num_frames: int) -> None:
        """Raise ValueError unless the model returns exactly ``num_frames`` frames for that request."""
        t = self.temporal_compression
        if not isinstance(num_frames, int) or num_frames < 1 or (num_frames - 1) % t:
            raise ValueError(f"{self.preset} makes k*{t}+1 frames (e.g. {t + 1}, {2 * t + 1}); got {num_frames!r}")

    def latent_shape(self, num_frames: int, width: int, height: int) -> tuple[int, int, int]:
        """(latent_frames, latent_height, latent_width) of a request."""
        return (
            (num_frames - 1) // self.temporal_compression + 1,
            height // self.spatial_compression,
            width // self.spatial_compression,
        )

    # --- running -----------------------------------------------------------

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
        image: Image.Image | None = None,
    ) -> np.ndarray:
        """Run the pipeline; returns uint8 frames shaped (num_frames, height, width, 3).

        ``on_step(i, total)`` runs after denoising step ``i`` (1-based). An
        exception raised by it stops the run and propagates (job
        cancellation). ``on_latents(i, total, latents)`` (optional, for live
        previews) gets the first video's latents after step ``i``, unpacked to
        (channels, latent_frames, latent_height, latent_width) and still in
        the model's normalised latent space. ``image`` (optional) conditions
        the first frame on a reference picture (image-to-video), cropped to
        the requested aspect ratio.
        """
        frames, _ = self._run_video(
            prompt, width=width, height=height, num_frames=num_frames, steps=steps, seed=seed,
            on_step=on_step, on_latents=on_latents, image=image, total=None,
        )
        return frames

    def generate_clip(
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
        image: Image.Image | None = None,
        audio_steps: int | None = None,
    ) -> Clip:
        """Like :meth:`generate`, plus a sound track exactly as long as the video.

        Joint models (LTX-2) make the sound in the same denoising run. Others
        run their sound model after the video, prompted from ``prompt``;
        ``on_step`` then counts the sound model's steps after the video's
        (``total`` = video steps + sound steps), so progress stays monotonic.
        With ``GenOptions.sound == "silent"`` (or no sound model) the track is
        silence.
        """
        _check_steps(steps)
        if seed is None:
            seed = random.SystemRandom().randrange(2**63)
        separate = not self.family.joint_audio and self.sound is not None and self.options.sound == "model"
        sound_steps = 0
        if separate:
            assert self.sound is not None
            sound_steps = audio_steps or self.sound.default_steps
            _check_steps(sound_steps)
        total = steps + sound_steps if separate else None
        frames, joint = self._run_video(
            prompt, width=width, height=height, num_frames=num_frames, steps=steps, seed=seed,
            on_step=on_step, on_latents=on_latents, image=image, total=total,
        )
        rate = self.sample_rate
        n = samples_for(num_frames, self.fps, rate)
        if joint is not None and self.options.sound == "model":
            audio = fit_length(as_audio(joint[0]), n, rate)
        elif separate:
            assert self.sound is not None

            def sound_step(i: int) -> None:
                if on_step is not None:
                    on_step(steps + i, steps + sound_steps)

            audio = self.sound.generate(prompt, samples=n, steps=sound_steps, seed=(int(seed) + 1) % 2**63, on_step=sound_step)
        else:
            audio = silence(2, n)
        return Clip(frames=frames, fps=self.fps, audio=audio, sample_rate=rate)

    def render_preview(self, latents: torch.Tensor, max_side: int = 256, frames: int = 4) -> bytes:
        """A JPEG preview of step latents (see ``gen.preview_render.render_preview``), with this model's projection."""
        from gen.preview_render import render_preview

        projection = self.projection if self.projection is not None and self.projection.channels == latents.shape[0] else None
        return render_preview(latents, self.preview_family, max_side=max_side, frames=frames, projection=projection)

    # --- internals -----------------------------------------------------------

    def _image_pipeline(self) -> Any:
        """The image-conditioned pipeline sharing every module of the loaded one (made once)."""
        if self._image_pipe is None:
            import diffusers

            name = self.family.image_pipeline
            if name is None or not self.spec.image_to_video:
                raise ValueError(f"{self.preset} does not take a reference image")
            cls = getattr(diffusers, name)
            # from_pipe shares the loaded modules (no copy, no second load); its
            # notes about float32 modules concern casting, which it does not do here.
            verbosity = diffusers.utils.logging.get_verbosity()
            diffusers.utils.logging.set_verbosity_error()
            try:
                pipe = cls.from_pipe(self.pipe)
            finally:
                diffusers.utils.logging.set_verbosity(verbosity)
            pipe.set_progress_bar_config(disable=True)
            self._image_pipe = pipe
        return self._image_pipe

    def _text(self, text: str) -> tuple[Any, Any]:
        """Embeddings (and mask) of one text, from the cache when it was seen recently."""
        size = self.options.prompt_cache
        hit = self._embeddings.get(text) if size else None
        if hit is not None:
            self._embeddings.move_to_end(text)
            return hit
        device = getattr(self.pipe, "_execution_device", self.device)
        value = self.family.encode_text(self.pipe, text, self.spec, device)
        if size:
            self._embeddings[text] = value
            while len(self._embeddings) > size:
                self._embeddings.popitem(last=False)
        return value

    def _prompt_kwargs(self, prompt: str) -> dict[str, Any]:
        if not self.options.prompt_cache:
            return {"prompt": prompt, "negative_prompt": self.spec.negative_prompt}
        embeds, mask = self._text(prompt)
        out: dict[str, Any] = {"prompt": None, "negative_prompt": None}
        name, mask_name = self.family.embeds_kwargs
        out[name] = embeds
        if mask_name is not None:
            out[mask_name] = mask
        # Always handed over (cached, so free after the first job): which
        # guidance a pipeline runs can depend on more than guidance_scale.
        neg, neg_mask = self._text(self.spec.negative_prompt or "")
        name, mask_name = self.family.negative_embeds_kwargs
        out[name] = neg
        if mask_name is not None:
            out[mask_name] = neg_mask
        return out

    def _run_video(
        self,
        prompt: str,
        *,
        width: int,
        height: int,
        num_frames: int,
        steps: int,
        seed: int | None,
        on_step: StepCallback | None,
        on_latents: LatentsCallback | None,
        image: Image.Image | None,
        total: int | None,
    ) -> tuple[np.ndarray, tuple[Any, int] | None]:
        import torch

        self.check_size(width, height)
        self.check_frames(num_frames)
        _check_steps(steps)
        if image is not None:
            image = fit_image(image, width, height)
            pipe = self._image_pipeline()
        else:
            pipe = self.pipe
        if seed is None:
            seed = random.SystemRandom().randrange(2**63)
        # A CPU generator gives the same noise for a seed on every device.
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        latent_shape = self.latent_shape(num_frames, width, height)
        family = self.family

        def step_end(_pipe: Any, i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            n = total or int(getattr(_pipe, "_num_timesteps", None) or steps)
            if on_latents is not None:
                on_latents(i + 1, n, family.preview_latents(_pipe, kwargs["latents"], latent_shape))
            if on_step is not None:
                on_step(i + 1, n)
            return {}

        wants_callback = on_step is not None or on_latents is not None
        kwargs = family.call_kwargs(self.spec, width=width, height=height, num_frames=num_frames, steps=steps)
        kwargs.update(self.spec.call_kwargs)
        if image is not None:
            kwargs["image"] = image
        with self._lock, torch.inference_mode():
            kwargs.update(self._prompt_kwargs(prompt))
            # Wan runs its unconditional pass only above guidance 1.
            batcher = cfg_batcher(pipe) if self.spec.guidance_scale > 1.0 else None
            try:
                if batcher is not None:
                    # Wan's two guidance passes as one batch (GenOptions.cfg_batch).
                    batcher.negative = kwargs.get("negative_prompt_embeds")
                # "pt": frames stay on the device until they are uint8 (4x less to
                # move, no float pass over the whole clip in numpy).
                result = pipe(
                    **kwargs,
                    generator=generator,
                    output_type="pt",
                    callback_on_step_end=step_end if wants_callback else None,
                    callback_on_step_end_tensor_inputs=["latents"] if on_latents is not None else [],
                )
            finally:
                if batcher is not None:
                    batcher.disarm()
                # A cancelled run leaves cache hooks mid-trajectory; the pipeline only resets them on success.
                reset = getattr(getattr(pipe, "transformer", None), "_reset_stateful_cache", None)
                if reset is not None and getattr(pipe.transformer, "is_cache_enabled", False):
                    reset()
            video = frames_to_uint8(result.frames[0])
        if video.shape != (num_frames, height, width, 3):
            raise RuntimeError(f"{self.preset} returned frames shaped {video.shape}, expected {(num_frames, height, width, 3)}")
        return video, family.audio_of(pipe, result)


def _check_steps(steps: object) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """``image`` as RGB, centre-cropped to the aspect ratio of ``width`` x ``height`` and resized to it."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    if not isinstance(image, PILImage.Image):
        raise ValueError(f"image must be a PIL image, got {type(image).__name__}")
    rgb = image.convert("RGB")
    if rgb.size == (width, height):
        return rgb
    return ImageOps.fit(rgb, (width, height), method=PILImage.Resampling.LANCZOS)


def frames_to_uint8(frames: torch.Tensor) -> np.ndarray:
    """One video from a pipeline's "pt" output, (F, 3, H, W) floats in [0, 1], as uint8 (F, H, W, 3).

    Rounds to nearest (ties to even), exactly as :func:`to_uint8` does on the
    "np" output, but on the tensor's device.
    """
    import torch

    out = (frames.float().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return np.ascontiguousarray(out.permute(0, 2, 3, 1).cpu().numpy())


def to_uint8(video: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] to uint8, rounding to nearest."""
    if video.dtype == np.uint8:
        return np.ascontiguousarray(video)
    out = np.clip(video, 0.0, 1.0) * 255.0
    return np.ascontiguousarray(np.rint(out).astype(np.uint8))
