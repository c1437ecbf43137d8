"""The tiny LTX-Video preset: the real diffusers classes at toy size.

Owns one thing: building a randomly initialised, seeded ``LTXPipeline`` small
enough to run on a laptop CPU in a fraction of a second, and saving it with
``save_pretrained``. Nothing here loads it back; the registry does that through
``LTXPipeline.from_pretrained``, the same path a real checkpoint takes, so the
tiny preset exercises the production loading and generation code.

The sizes follow diffusers' own LTX test configuration: a one-layer
transformer of 4 heads of 8, a VAE with 8 channels that compresses 4x in space
and 4x in time, and a two-layer T5 encoder of width 32. The tokenizer is a T5
(Unigram) tokenizer made from an in-memory vocabulary, so nothing is
downloaded.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch

# Bump when the configuration below changes: a folder built by another
# version is rebuilt instead of being loaded.
TINY_BUILD_VERSION = 1
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
        num_layers=1,
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
