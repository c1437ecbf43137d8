"""The preset rules: readable without any model code (the api imports them),
the same rules the loaded presets carry, each preset's frame counts and
sizes, and the api's size check following the served preset's own
multiple and largest side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import BadRequest
from core.settings import Settings
from gen.pipelines.presets import RULES, get_rules
from server.videos_schema import allowed_sizes, model_takes_images, parse_size

ROOT = Path(__file__).resolve().parents[2]


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


def served(model: str, max_side: int = 2048) -> Settings:
    return Settings(model=model, max_video_side=max_side)


def test_api_takes_a_size_by_the_served_presets_multiple():
    # 720x400: multiples of 16, not of 32. Wan 2.1 makes it; LTX-Video does not.
    assert parse_size("720x400", served("wan2.1-t2v-1.3b")) == (720, 400)
    with pytest.raises(BadRequest) as refused:
        parse_size("720x400", served("ltx-video"))
    assert refused.value.code == "invalid_size"
    assert refused.value.details["multiple"] == 32 and refused.value.details["max_side"] == 1280


def test_api_takes_a_size_up_to_the_served_presets_largest_side():
    # 1280x704: LTX-Video makes it; Wan 2.1 1.3B's largest side is 832.
    assert parse_size("1280x704", served("ltx-video")) == (1280, 704)
    with pytest.raises(BadRequest) as refused:
        parse_size("1280x704", served("wan2.1-t2v-1.3b"))
    assert refused.value.details["multiple"] == 16 and refused.value.details["max_side"] == 832
    assert "1280x704" not in refused.value.details["sizes"] and "832x480" in refused.value.details["sizes"]
    assert "1280x704" in allowed_sizes(served("ltx-video"))


def test_installation_limit_caps_the_presets_largest_side():
    # The tiny preset makes up to 1024; an installation serving it with max_video_side 256 takes no more.
    assert parse_size("256x256", served("tiny", 256)) == (256, 256)
    with pytest.raises(BadRequest) as refused:
        parse_size("288x256", served("tiny", 256))
    assert refused.value.details["max_side"] == 256
    assert parse_size("288x256", served("tiny", 2048)) == (288, 256)
    with pytest.raises(BadRequest):
        parse_size("1056x256", served("tiny", 2048))


def test_image_conditioning_follows_the_preset():
    assert model_takes_images("tiny") and model_takes_images("wan2.2-ti2v-5b")
    assert not model_takes_images("wan2.1-t2v-1.3b")
    assert not model_takes_images("nope")
