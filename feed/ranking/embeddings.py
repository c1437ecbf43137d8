"""Sentence embeddings of posts: all-MiniLM-L6-v2 (384-d, L2-normalised).

The model and its loading live in ``core.minilm`` (shared with prompt
moderation); posts use the float model as shipped. A post's embedding is
computed once, at publish, from ``prompt + " " + caption``.

``embed_texts`` is blocking (CPU); async code calls ``embed_async``, which
runs it in a thread."""

from __future__ import annotations

import asyncio

from core import minilm
from core.minilm import DIM, MAX_TOKENS, model_dir

__all__ = ["DIM", "MAX_TOKENS", "embed_async", "embed_texts", "model_dir", "post_text"]


def embed_texts(texts: list[str]) -> list[list[float]]:
    """One 384-d unit vector per text (blocking; the first call loads the model)."""
    return minilm.embed(texts, "float")


async def embed_async(texts: list[str]) -> list[list[float]]:
    return await asyncio.to_thread(embed_texts, texts)


def post_text(prompt: str, caption: str) -> str:
    """The text a post's embedding is computed from."""
    return f"{prompt} {caption}".strip()
