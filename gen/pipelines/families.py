"""What differs between model families when a pipeline is driven.

A family (LTX-Video, LTX-2, Wan) is one set of diffusers classes with one
calling convention: which arguments ``__call__`` takes, how latents look in
the step callback, how the VAE's latent space is normalised, how a prompt is
encoded on its own, which pipeline class conditions on an image. Everything
else (loading, options, sound, previews) is shared and lives elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from gen.pipelines.base import Preset


class Family:
    name: str = ""
    # The model makes the sound track itself (one denoiser for video and audio).
    joint_audio: bool = False
    # diffusers pipeline class that conditions on an image, made with from_pipe.
    image_pipeline: str | None = None
    # __call__ names for the text embeddings and their masks (None: no mask).
    embeds_kwargs: tuple[str, str | None] = ("prompt_embeds", "prompt_attention_mask")
    negative_embeds_kwargs: tuple[str, str | None] = ("negative_prompt_embeds", "negative_prompt_attention_mask")

    def compression(self, pipe: Any, spec: Preset) -> tuple[int, int]:
        """(temporal, spatial) compression of the VAE."""
        return (
            int(getattr(pipe, "vae_temporal_compression_ratio", spec.frame_multiple)),
            int(getattr(pipe, "vae_spatial_compression_ratio", spec.size_multiple)),
        )

    def call_kwargs(self, spec: Preset, *, width: int, height: int, num_frames: int, steps: int) -> dict[str, Any]:
        return dict(
            width=width,
            height=height,
            num_frames=num_frames,
            frame_rate=spec.fps,
            num_inference_steps=steps,
            guidance_scale=spec.guidance_scale,
            decode_timestep=spec.decode_timestep,
            decode_noise_scale=spec.decode_noise_scale,
            max_sequence_length=spec.max_sequence_length,
        )

    def preview_latents(self, pipe: Any, latents: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        """The first video's latents from a step callback as (C, F', h', w')."""
        unpacked = pipe._unpack_latents(
            latents[:1], *latent_shape, pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        )
        return unpacked[0]

    def denormalize(self, pipe: Any, z: torch.Tensor) -> torch.Tensor:
        vae = pipe.vae
        return pipe._denormalize_latents(z, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)

    def decode(self, pipe: Any, z: torch.Tensor, decode_timestep: float = 0.0) -> torch.Tensor:
        """Normalised latents (B, C, F', h', w') to pixels (B, 3, F, H, W) in [-1, 1], as the pipeline decodes."""
        import torch

        vae = pipe.vae
        latents = self.denormalize(pipe, z.to(vae.dtype))
        timestep = None
        if getattr(vae.config, "timestep_conditioning", False):
            timestep = torch.full((latents.shape[0],), float(decode_timestep), device=latents.device, dtype=latents.dtype)
        return vae.decode(latents, timestep, return_dict=False)[0]

    def encode_text(self, pipe: Any, text: str, spec: Preset, device: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One text's embeddings (and mask), exactly as ``__call__`` would make them."""
        out = pipe.encode_prompt(
            prompt=text,
            negative_prompt=None,
            do_classifier_free_guidance=False,
            num_videos_per_prompt=1,
            max_sequence_length=spec.max_sequence_length,
            device=device,
        )
        return out[0], out[1]

    def audio_of(self, pipe: Any, result: Any) -> tuple[Any, int] | None:
        return None


class LTXFamily(Family):
    name = "ltx"
    image_pipeline = "LTXImageToVideoPipeline"


class LTX2Family(Family):
    name = "ltx2"
    joint_audio = True
    image_pipeline = "LTX2ImageToVideoPipeline"

    def audio_of(self, pipe: Any, result: Any) -> tuple[Any, int] | None:
        return result.audio, int(pipe.vocoder.config.output_sampling_rate)


class WanFamily(Family):
    name = "wan"
    image_pipeline = "WanImageToVideoPipeline"
    embeds_kwargs = ("prompt_embeds", None)
    negative_embeds_kwargs = ("negative_prompt_embeds", None)

    def compression(self, pipe: Any, spec: Preset) -> tuple[int, int]:
        return (
            int(getattr(pipe, "vae_scale_factor_temporal", spec.frame_multiple)),
            int(getattr(pipe, "vae_scale_factor_spatial", spec.size_multiple)),
        )

    def call_kwargs(self, spec: Preset, *, width: int, height: int, num_frames: int, steps: int) -> dict[str, Any]:
        return dict(
            width=width,
            height=height,
            num_frames=num_frames,
            num_inference_steps=steps,
            guidance_scale=spec.guidance_scale,
            max_sequence_length=spec.max_sequence_length,
        )

    def preview_latents(self, pipe: Any, latents: torch.Tensor, latent_shape: tuple[int, int, int]) -> torch.Tensor:
        return latents[0]

    def denormalize(self, pipe: Any, z: torch.Tensor) -> torch.Tensor:
        import torch

        vae = pipe.vae
        channels = z.shape[1]
        mean = torch.tensor(vae.config.latents_mean, device=z.device, dtype=z.dtype).view(1, channels, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=z.device, dtype=z.dtype).view(1, channels, 1, 1, 1)
        return z * std + mean

    def decode(self, pipe: Any, z: torch.Tensor, decode_timestep: float = 0.0) -> torch.Tensor:
        vae = pipe.vae
        return vae.decode(self.denormalize(pipe, z.to(vae.dtype)), return_dict=False)[0]

    def encode_text(self, pipe: Any, text: str, spec: Preset, device: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = pipe.encode_prompt(
            prompt=text,
            negative_prompt=None,
            do_classifier_free_guidance=False,
            num_videos_per_prompt=1,
            max_sequence_length=spec.max_sequence_length,
            device=device,
        )
        return out[0], None


FAMILIES: dict[str, Family] = {f.name: f for f in (LTXFamily(), LTX2Family(), WanFamily())}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}") from None
