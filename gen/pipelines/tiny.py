"""Tiny presets: the real diffusers classes at toy size, random weights.

Owns building randomly initialised, seeded pipelines small enough to run on a
laptop CPU in a fraction of a second, and saving them with
``save_pretrained``. Nothing here loads them back: the registry does that
through ``from_pretrained``, the same path a real checkpoint takes, so the
tiny presets exercise the production loading and generation code.

* ``build_tiny_ltx``: ``LTXPipeline`` (LTX-Video). Sizes follow diffusers' own
  LTX test configuration: a two-layer transformer of 4 heads of 8, a VAE with
  8 channels that compresses 4x in space and 4x in time, a two-layer T5
  encoder of width 32.
* ``build_tiny_ltx2``: ``LTX2Pipeline`` (LTX-2: video and sound from one
  denoiser). A two-layer audio-video transformer; a video VAE that
  compresses 16x in space (the real one: 32x) and 4x in time, so even the
  largest clips the API allows take seconds on a CPU; an audio VAE over 8
  mel bins and a vocoder that turns 100 mel frames a second into 16 kHz
  stereo; a two-layer Gemma 3 text encoder of width 32.
* ``build_tiny_wan``: ``WanPipeline`` laid out like Wan 2.2 TI2V-5B (one
  transformer for text- and image-to-video, ``expand_timesteps``; the classes
  are Wan 2.1's): a VAE with 48 latent channels that compresses 16x in space
  and 4x in time, a two-layer transformer of 2 heads of 12, a UMT5 encoder.
* ``build_tiny_stable_audio``: ``StableAudioPipeline`` (Stable Audio Open's
  classes): 16 kHz stereo, a 4 s window.

Tokenizers are made from an in-memory vocabulary (T5 Unigram for T5/UMT5, a
Gemma BPE with whole-word merges), so nothing is downloaded. Each video build
also fits its live-preview projection against its own VAE and stores it in
the folder (``gen.preview_render``).
"""

from __future__ import annotations

import string
from pathlib import Path

import torch

# Bump when a configuration below changes: a folder built by another
# version is rebuilt instead of being loaded.
TINY_BUILD_VERSION = 2  # LTX-Video
TINY_LTX2_BUILD_VERSION = 2
TINY_WAN_BUILD_VERSION = 1
TINY_AUDIO_BUILD_VERSION = 1
TINY_SEED = 20240601
TEXT_WIDTH = 32

_WORDS = """
a an the and or of in on at to with from by for into over under near through
is are was be being very slowly quickly gently softly bright dark light red
orange yellow green blue purple pink white black gray golden silver warm cold
cat dog bird fish horse fox wolf bear owl robot person man woman child friend
people crowd dancer runner skater astronaut chef king queen dragon car train
boat ship plane rocket bike city street road bridge tower house room kitchen
forest tree flower garden field mountain hill river lake ocean sea beach wave
rain snow fog cloud sky sun moon star night day morning evening sunset sunrise
fire water ice sand stone glass metal wood paper neon light shadow smoke
walks runs jumps flies swims dances sings plays rides drives falls rises spins
looks smiles laughs turns waves floats glows shines moves sits stands sleeps
camera shot close up wide aerial slow motion zoom pan tracking cinematic
video film scene style realistic cartoon anime painting watercolor sketch pixel
vintage futuristic retro dreamy epic calm happy sad funny cute tiny giant big
small old young new long short high low fast time lapse loop frame color
""".split()


def tiny_vocab() -> list[tuple[str, float]]:
    """A deterministic Unigram vocabulary of a few hundred pieces.

    T5 order: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, then ordinary pieces.
    Whole words score higher than single characters so common words stay one
    piece; any other text still tokenizes through the character pieces.
    """
    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    seen = {p for p, _ in pieces}

    def add(piece: str, score: float) -> None:
        if piece not in seen:
            seen.add(piece)
            pieces.append((piece, score))

    for rank, word in enumerate(_WORDS):
        add("\u2581" + word, -3.0 - rank * 0.001)
    for ch in string.ascii_lowercase + string.digits:
        add("\u2581" + ch, -6.0)
    for ch in string.ascii_letters + string.digits + string.punctuation:
        add(ch, -8.0)
    return pieces


def _tokenizer():
    from transformers import T5Tokenizer

    return T5Tokenizer(vocab=tiny_vocab(), extra_ids=0, model_max_length=128)


def _text_encoder(vocab_size: int):
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=vocab_size,
        d_model=TEXT_WIDTH,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config)


def _transformer():
    from diffusers import LTXVideoTransformer3DModel

    return LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=2,
        caption_channels=TEXT_WIDTH,
    )


def _vae():
    from diffusers import AutoencoderKLLTXVideo

    return AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )


def _fit_preview(pipe, family: str, latent_shape: tuple[int, int, int, int], path: Path) -> None:
    from gen.pipelines.families import get_family
    from gen.preview_render import PREVIEW_FILE, fit_projection

    fam = get_family(family)
    projection = fit_projection(lambda z: fam.decode(pipe, z), latent_shape, samples=4, seed=TINY_SEED)
    projection.save(Path(path) / PREVIEW_FILE)


def build_tiny_ltx(path: Path) -> None:
    """Build the tiny LTX-Video pipeline and ``save_pretrained`` it into ``path``.

    Deterministic: the same seed gives the same weights on every machine, and
    the caller's global RNG state is left as it was.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler, LTXPipeline

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        tokenizer = _tokenizer()
        pipe = LTXPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=_vae(),
            text_encoder=_text_encoder(len(tokenizer)),
            tokenizer=tokenizer,
            transformer=_transformer(),
        )
        pipe.save_pretrained(path, safe_serialization=True)
        _fit_preview(pipe, "ltx", (8, 3, 8, 8), path)


# LTX-2 ---------------------------------------------------------------------

GEMMA_WIDTH = 32


def tiny_gemma_tokenizer():
    """A Gemma BPE tokenizer over characters plus whole-word merges for the tiny word list."""
    from transformers import GemmaTokenizer

    vocab: dict[str, int] = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
    merges: list[tuple[str, str]] = []
    for ch in "\u2581" + string.ascii_letters + string.digits + string.punctuation:
        vocab.setdefault(ch, len(vocab))
    for word in _WORDS:
        piece = "\u2581" + word
        for i in range(2, len(piece) + 1):
            if piece[:i] not in vocab:
                vocab[piece[:i]] = len(vocab)
                merges.append((piece[: i - 1], piece[i - 1]))
    return GemmaTokenizer(vocab=vocab, merges=merges, model_max_length=128)


def _gemma(vocab_size: int):
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3TextConfig, SiglipVisionConfig

    text = Gemma3TextConfig(
        vocab_size=vocab_size,
        hidden_size=GEMMA_WIDTH,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=256,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    vision = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14)
    return Gemma3ForConditionalGeneration(Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4))


def build_tiny_ltx2(path: Path) -> None:
    """Build the tiny LTX-2 (joint video + audio) pipeline into ``path``; deterministic, RNG left alone."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        tokenizer = tiny_gemma_tokenizer()
        text_encoder = _gemma(len(tokenizer))
        transformer = LTX2VideoTransformer3DModel(
            in_channels=4,
            out_channels=4,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=2,
            attention_head_dim=8,
            cross_attention_dim=16,
            audio_in_channels=4,
            audio_out_channels=4,
            audio_num_attention_heads=2,
            audio_attention_head_dim=4,
            audio_cross_attention_dim=8,
            num_layers=2,
            qk_norm="rms_norm_across_heads",
            caption_channels=GEMMA_WIDTH,
            rope_double_precision=False,
            rope_type="split",
        )
        connectors = LTX2TextConnectors(
            caption_channels=GEMMA_WIDTH,
            text_proj_in_factor=text_encoder.config.text_config.num_hidden_layers + 1,
            video_connector_num_attention_heads=4,
            video_connector_attention_head_dim=8,
            video_connector_num_layers=1,
            video_connector_num_learnable_registers=None,
            audio_connector_num_attention_heads=4,
            audio_connector_attention_head_dim=8,
            audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=None,
            connector_rope_base_seq_len=32,
            rope_theta=10000.0,
            rope_double_precision=False,
            causal_temporal_positioning=False,
            rope_type="split",
        )
        vae = AutoencoderKLLTX2Video(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=(8, 8),
            decoder_block_out_channels=(8, 8),
            layers_per_block=(1, 1, 1),
            decoder_layers_per_block=(1, 1, 1),
            spatio_temporal_scaling=(True, True),
            decoder_spatio_temporal_scaling=(True, True),
            decoder_inject_noise=(False, False, False),
            downsample_type=("spatiotemporal", "spatiotemporal"),
            upsample_type=("spatiotemporal", "spatiotemporal"),
            upsample_residual=(False, False),
            upsample_factor=(1, 1),
            timestep_conditioning=False,
            patch_size=4,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        audio_vae = AutoencoderKLLTX2Audio(
            base_channels=4,
            output_channels=2,
            ch_mult=(1,),
            num_res_blocks=1,
            attn_resolutions=None,
            in_channels=2,
            resolution=32,
            latent_channels=2,
            norm_type="pixel",
            causality_axis="height",
            dropout=0.0,
            mid_block_add_attention=False,
            sample_rate=16000,
            mel_hop_length=160,
            is_causal=True,
            mel_bins=8,
        )
        # 100 mel frames a second, upsampled 4 * 4 * 10 = 160x: 16 kHz out.
        vocoder = LTX2Vocoder(
            in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
            hidden_channels=32,
            out_channels=2,
            upsample_kernel_sizes=[8, 8, 20],
            upsample_factors=[4, 4, 10],
            resnet_kernel_sizes=[3],
            resnet_dilations=[[1, 3, 5]],
            leaky_relu_negative_slope=0.1,
            output_sampling_rate=16000,
        )
        pipe = LTX2Pipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            audio_vae=audio_vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            connectors=connectors,
            transformer=transformer,
            vocoder=vocoder,
        )
        pipe.save_pretrained(path, safe_serialization=True)
        _fit_preview(pipe, "ltx2", (4, 3, 8, 8), path)


# Wan -----------------------------------------------------------------------


def _umt5(vocab_size: int):
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(
        vocab_size=vocab_size,
        d_model=TEXT_WIDTH,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return UMT5EncoderModel(config)


def build_tiny_wan(path: Path) -> None:
    """Build the tiny Wan pipeline (Wan 2.2 TI2V layout) into ``path``; deterministic, RNG left alone."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        tokenizer = _tokenizer()
        vae = AutoencoderKLWan(
            base_dim=8,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        )
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=48,
            out_channels=48,
            text_dim=TEXT_WIDTH,
            freq_dim=32,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
        pipe = WanPipeline(
            tokenizer=tokenizer,
            text_encoder=_umt5(len(tokenizer)),
            vae=vae,
            scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
            transformer=transformer,
            transformer_2=None,
            boundary_ratio=None,
            expand_timesteps=True,
        )
        pipe.save_pretrained(path, safe_serialization=True)
        _fit_preview(pipe, "wan", (48, 3, 8, 8), path)


# Stable Audio --------------------------------------------------------------


def build_tiny_stable_audio(path: Path) -> None:
    """Build the tiny Stable Audio pipeline (16 kHz stereo, 4.1 s window) into ``path``."""
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        tokenizer = _tokenizer()
        conditioning = 16
        pipe = StableAudioPipeline(
            vae=AutoencoderOobleck(
                encoder_hidden_size=8,
                downsampling_ratios=[4, 8, 8],
                channel_multiples=[1, 2, 2],
                decoder_channels=8,
                decoder_input_channels=8,
                audio_channels=2,
                sampling_rate=16000,
            ),
            text_encoder=_text_encoder(len(tokenizer)),
            projection_model=StableAudioProjectionModel(
                text_encoder_dim=TEXT_WIDTH, conditioning_dim=conditioning, min_value=0, max_value=64
            ),
            tokenizer=tokenizer,
            transformer=StableAudioDiTModel(
                sample_size=256,
                in_channels=8,
                num_layers=2,
                attention_head_dim=8,
                num_attention_heads=2,
                num_key_value_attention_heads=1,
                out_channels=8,
                cross_attention_dim=conditioning,
                time_proj_dim=16,
                global_states_input_dim=2 * conditioning,
                cross_attention_input_dim=conditioning,
            ),
            scheduler=CosineDPMSolverMultistepScheduler(
                solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
            ),
        )
        pipe.save_pretrained(path, safe_serialization=True)
