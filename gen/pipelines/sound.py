"""Sound for video models that make none: a text-to-audio pipeline prompted from the video prompt.

Owns :class:`SoundGenerator`, a loaded ``StableAudioPipeline`` (Stable Audio
Open, or the tiny random-weight build of the same classes) reused across
jobs, which returns a float32 track (channels, samples) of exactly the
requested length. A clip longer than the model's window is made in
segments joined with a short crossfade.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from gen.audio import AUDIO_NEGATIVE_PROMPT, as_audio, audio_prompt, crossfade_concat, fit_length

SEAM_S = 0.05


class SoundGenerator:
    """A loaded text-to-audio pipeline. One call at a time, like the video generator."""

    def __init__(self, pipe: Any, name: str, device: str, default_steps: int, guidance_scale: float = 7.0) -> None:
        self.pipe = pipe
        self.name = name
        self.device = device
        self.default_steps = default_steps
        self.guidance_scale = guidance_scale
        vae = pipe.vae
        self.sample_rate: int = int(vae.config.sampling_rate)
        self.channels: int = int(vae.config.audio_channels)
        self.max_seconds: float = pipe.transformer.config.sample_size * vae.hop_length / self.sample_rate

    def __repr__(self) -> str:
        return f"SoundGenerator({self.name!r}, {self.sample_rate} Hz, up to {self.max_seconds:.1f} s a segment)"

    def segments(self, seconds: float) -> int:
        return max(1, math.ceil(seconds / (self.max_seconds - SEAM_S) - 1e-9)) if seconds > self.max_seconds else 1

    def generate(
        self,
        prompt: str,
        *,
        samples: int,
        steps: int | None = None,
        seed: int = 0,
        on_step: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """A track of exactly ``samples`` samples for a video described by ``prompt``.

        ``on_step(i)`` runs after each denoising step (1-based, counted over all
        segments); an exception raised by it stops the run.
        """
        import torch

        steps = steps or self.default_steps
        seconds = samples / self.sample_rate
        count = self.segments(seconds)
        seam = int(SEAM_S * self.sample_rate) if count > 1 else 0
        per_segment = (samples + seam * (count - 1)) / count
        text = audio_prompt(prompt)
        done = 0
        parts = []

        def callback(_i: int, _t: Any, _latents: Any) -> None:
            nonlocal done
            done += 1
            if on_step is not None:
                on_step(done)

        for k in range(count):
            length = min(per_segment / self.sample_rate, self.max_seconds)
            generator = torch.Generator(device="cpu").manual_seed((int(seed) + k) % 2**63)
            with torch.inference_mode(), warnings.catch_warnings():
                # torchsde's Brownian tree notes float rounding at the ends of its interval.
                warnings.filterwarnings("ignore", message="Should have", category=UserWarning)
                out = self.pipe(
                    prompt=text,
                    negative_prompt=AUDIO_NEGATIVE_PROMPT,
                    audio_end_in_s=length,
                    num_inference_steps=steps,
                    guidance_scale=self.guidance_scale,
                    generator=generator,
                    callback=callback,
                    callback_steps=1,
                    output_type="pt",
                )
            parts.append(as_audio(out.audios))
        return fit_length(crossfade_concat(parts, seam), samples, self.sample_rate)
