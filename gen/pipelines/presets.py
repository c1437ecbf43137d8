"""The model presets by name, and what each can make.

Owns :class:`PresetRules` (a preset's family, playback rate, default number
of steps, the frame sizes and clip lengths it makes, whether a reference
image can condition it, where its sound comes from) and the table
:data:`RULES`, one entry per preset that ``FABULA_MODEL`` or a request's
``model`` may name. Plain data with no model imports (no torch, no
diffusers), so the api checks a request against the served preset without
loading any model code. How each preset is loaded and sampled (pipeline
class, weights, guidance) is the registry's (``gen.pipelines.registry``),
whose presets carry these rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class PresetRules:
    """What a preset makes: the rules a request is checked against."""

    name: str
    description: str
    # "ltx" (LTX-Video), "ltx2" (LTX-2, joint video + sound) or "wan" (Wan 2.1 / 2.2).
    family: str = "ltx"
    fps: int
    default_steps: int
    # Width and height are multiples of this, up to max_side.
    size_multiple: int = 32
    # Frames are k * frame_multiple + 1 (LTX-Video: 8k + 1).
    frame_multiple: int = 8
    max_side: int = 1280
    # A reference image can condition the first frame (image-to-video).
    image_to_video: bool = True
    # Name of the sound preset for families that make no sound (None: joint or silent).
    sound: str | None = None

    def frame_count(self, seconds: int) -> int:
        """Frames in a clip of ``seconds`` at this preset's fps, rounded up to the k*m+1 it makes."""
        if seconds < 1:
            raise ValueError(f"seconds must be at least 1, got {seconds}")
        m = self.frame_multiple
        body = -(-seconds * self.fps // m) * m
        return body + 1

    def check_size(self, width: int, height: int) -> None:
        """Raise ValueError unless this preset makes ``width`` x ``height`` frames."""
        m, top = self.size_multiple, self.max_side
        for name, value in (("width", width), ("height", height)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            if value % m:
                raise ValueError(
                    f"{self.name} makes {name}s that are multiples of {m} pixels; "
                    f"got {value} (nearest: {max(m, round(value / m) * m)})"
                )
            if value > top:
                raise ValueError(f"{self.name} makes {name}s up to {top} pixels; got {value}")


_TINY_LTX2 = dict(family="ltx2", fps=8, default_steps=4, max_side=1024)

_TABLE = (
    PresetRules(
        name="tiny",
        description="LTX-2 architecture (joint video + sound) at toy size with random weights (tests, CPU dev)",
        **_TINY_LTX2,
    ),
    PresetRules(
        name="tiny-ltx2",
        description="Same model as 'tiny': LTX-2 at toy size with random weights",
        **_TINY_LTX2,
    ),
    PresetRules(
        name="tiny-ltx",
        description="LTX-Video architecture at toy size with random weights; sound from tiny Stable Audio",
        family="ltx",
        fps=8,
        default_steps=4,
        max_side=1024,
        sound="tiny-audio",
    ),
    PresetRules(
        name="tiny-wan",
        description="Wan 2.1/2.2 classes (TI2V-5B layout) at toy size with random weights; sound from tiny Stable Audio",
        family="wan",
        fps=8,
        default_steps=4,
        size_multiple=32,
        frame_multiple=4,
        max_side=1024,
        sound="tiny-audio",
    ),
    PresetRules(
        name="ltx-2",
        description="Lightricks LTX-2: video and sound from one model (diffusers format)",
        family="ltx2",
        fps=24,
        default_steps=40,
        max_side=1920,
    ),
    PresetRules(
        name="ltx-video",
        description="Lightricks LTX-Video (diffusers format); sound from Stable Audio Open",
        family="ltx",
        fps=24,
        default_steps=50,
        max_side=1280,
        sound="stable-audio-open",
    ),
    PresetRules(
        name="wan2.1-t2v-1.3b",
        description="Wan 2.1 text-to-video 1.3B, 480p (diffusers format); sound from Stable Audio Open",
        family="wan",
        fps=16,
        default_steps=50,
        size_multiple=16,
        frame_multiple=4,
        max_side=832,
        image_to_video=False,
        sound="stable-audio-open",
    ),
    PresetRules(
        name="wan2.2-ti2v-5b",
        description="Wan 2.2 TI2V 5B, text- and image-to-video at 720p (diffusers format); sound from Stable Audio Open",
        family="wan",
        fps=24,
        default_steps=50,
        size_multiple=32,
        frame_multiple=4,
        max_side=1280,
        sound="stable-audio-open",
    ),
)

RULES: dict[str, PresetRules] = {rules.name: rules for rules in _TABLE}


def get_rules(preset: str) -> PresetRules:
    """The rules of the preset named ``preset``; ValueError listing the known ones otherwise."""
    try:
        return RULES[preset]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model preset {preset!r}; known presets: {', '.join(sorted(RULES))}") from None
