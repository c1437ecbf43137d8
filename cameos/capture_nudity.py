"""NudeNet on what a cameo or character upload would keep or show: frames
sampled over the recording (the whole picture, not only the face), and the
reference frames that would be stored. Anything tied to a likeness is judged
strictly (``policy.images.judge_nudity(strict=True)``): covered intimate
parts refuse too. A refusal is 422 ``moderation_blocked`` and nothing of
the upload is stored.

The frames are decoded in the cameo process pool (``cameos.verification``);
the detector runs in a thread of the calling process."""

from __future__ import annotations

import asyncio
import io

import numpy as np

from cameos import verification
from cameos.upload_refusal import moderation_blocked
from core import nudity
from core.settings import Settings
from policy.decision import Decision
from policy.images import judge_nudity

SAMPLED_FRAMES = 6


def _judge_jpegs(jpegs: list[bytes], strict: bool) -> Decision:
    from PIL import Image

    for jpeg in jpegs:
        with Image.open(io.BytesIO(jpeg)) as image:
            rgb = np.asarray(image.convert("RGB"))
        decision = judge_nudity([(d.label, d.score) for d in nudity.detect(rgb)], strict=strict)
        if not decision.allowed:
            return decision
    return Decision.allow()


async def check_frames(jpegs: list[bytes], *, strict: bool = True, field: str = "video") -> None:
    """Raise ``moderation_blocked`` when one of ``jpegs`` shows nudity."""
    decision = await asyncio.to_thread(_judge_jpegs, list(jpegs), strict)
    if not decision.allowed:
        raise moderation_blocked(decision, field)


async def check_recording(settings: Settings, path: str, *, count: int = SAMPLED_FRAMES) -> None:
    """``count`` frames spread over the recording at ``path``, checked strictly."""
    await check_frames(await verification.character_frames(settings, path, count))
