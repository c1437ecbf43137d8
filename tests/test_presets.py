"""The preset rules: readable without any model code (the api imports them),
the same rules the loaded presets carry, each preset's frame counts and
sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gen.pipelines.presets import RULES, get_rules
from server.videos_schema import model_takes_images

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", ["gen.pipelines.presets", "server.videos_schema"])
def test_reading_the_rules_imports_no_model_code(module):
    # A fresh interpreter: this test process may have imported torch already.
    check = (
        f"import sys, {module}\n"
        "from server.videos_schema import model_takes_images, parse_size\n"
        "from core.settings import Settings\n"
        "parse_size('64x64', Settings()); model_takes_images('tiny')\n"
        "loaded = sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules)\n"
        "print(','.join(loaded) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_the_loaded_presets_carry_these_rules():
    from gen.pipelines.registry import PRESETS

    assert list(PRESETS) == list(RULES)
    for name, preset in PRESETS.items():
        rules = RULES[name]
        assert preset.name == name
        for field in ("description", "family", "fps", "default_steps", "size_multiple", "frame_multiple", "max_side", "image_to_video", "sound"):
            assert getattr(preset, field) == getattr(rules, field), (name, field)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="known presets: .*tiny"):
        get_rules("nope")


def test_frame_counts_and_sizes_follow_each_preset():
    assert get_rules("ltx-video").frame_count(1) == 25  # 24 fps, 8k + 1
    assert get_rules("wan2.1-t2v-1.3b").frame_count(5) == 81  # 16 fps, 4k + 1
    get_rules("wan2.1-t2v-1.3b").check_size(720, 400)
    with pytest.raises(ValueError, match="multiples of 32"):
        get_rules("ltx-video").check_size(720, 400)
    with pytest.raises(ValueError, match="up to 832"):
        get_rules("wan2.1-t2v-1.3b").check_size(1280, 704)


def test_image_conditioning_follows_the_preset():
    assert model_takes_images("tiny") and model_takes_images("wan2.2-ti2v-5b")
    assert not model_takes_images("wan2.1-t2v-1.3b")
    assert not model_takes_images("nope")
