"""Live step previews: latents -> a small JPEG strip through a linear
projection, the projection fitted against each model's VAE, and previews
rendered from a real (tiny) denoising run."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from gen.pipelines.options import GenOptions
from gen.pipelines.registry import PREVIEW_CACHE, load_generator
from gen.preview_render import (
    PREVIEW_FILE,
    Projection,
    fit_projection,
    fixed_projection,
    pick_frames,
    pool_to_latent_grid,
    projection_for,
    read_projection,
    register_projection,
    render_preview,
)
from tests.gen_fixtures import SIZE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def jpeg(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()
    return image


@pytest.mark.parametrize("channels", [1, 4, 8, 16, 48, 128])
def test_fixed_projection_exists_for_any_channel_count(channels):
    p = fixed_projection(channels)
    weight, bias = p.arrays()
    assert weight.shape == (channels, 3) and bias.shape == (3,)
    assert p.source == "fixed" and p.channels == channels
    assert np.array_equal(weight, fixed_projection(channels).arrays()[0])  # deterministic
    # Unit-Gaussian latents give each colour variance 1/2 (three or more channels): visible, not saturated.
    if channels >= 3:
        assert np.allclose((weight**2).sum(axis=0), 0.5, atol=1e-5)


def test_pick_frames_spreads_from_first_to_last():
    assert pick_frames(3, 4) == [0, 1, 2]
    assert pick_frames(13, 4) == [0, 4, 8, 12]
    assert pick_frames(25, 1) == [0]
    with pytest.raises(ValueError):
        pick_frames(5, 0)


def test_render_preview_is_a_jpeg_strip_of_frames_across_time():
    latents = torch.randn(8, 13, 8, 12)
    image = jpeg(render_preview(latents, "test-strip", max_side=256, frames=4))
    # Four frames side by side, each scaled so its longer side is 256.
    assert image.size == (4 * 256, 171) and image.mode == "RGB"
    small = jpeg(render_preview(latents, "test-strip", max_side=64, frames=2))
    assert small.size == (2 * 64, 43)
    few = jpeg(render_preview(torch.randn(8, 2, 16, 16), "test-strip", max_side=128, frames=4))
    assert few.size == (2 * 128, 128)  # only two latent frames to show


def test_render_preview_takes_any_dtype_and_device_layout():
    latents = torch.randn(16, 3, 8, 8)
    a = render_preview(latents, "test-dtype")
    b = render_preview(latents.to(torch.bfloat16), "test-dtype")
    c = render_preview(latents.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2), "test-dtype")  # non-contiguous view
    assert jpeg(a).size == jpeg(b).size == jpeg(c).size
    with pytest.raises(ValueError):
        render_preview(torch.randn(16, 8, 8), "test-dtype")


def test_colour_follows_the_projection():
    latents = torch.zeros(4, 1, 8, 8)
    latents[0] = 1.0
    red = Projection(weight=[[1.0, -1.0, -1.0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], bias=[0.0, 0.0, 0.0], source="fit")
    pixels = np.asarray(jpeg(render_preview(latents, "x", max_side=32, projection=red))).astype(int)
    assert pixels[..., 0].mean() > 240 and pixels[..., 1].mean() < 15 and pixels[..., 2].mean() < 15

    # Registered for a family and channel count: used by render_preview(latents, family).
    register_projection("test-red", red)
    assert projection_for("test-red", 4) is red
    assert projection_for("test-red", 5).source == "fixed"  # other channel counts fall back
    again = np.asarray(jpeg(render_preview(latents, "test-red", max_side=32))).astype(int)
    assert np.abs(again - pixels).mean() < 1


def test_pool_to_latent_grid_follows_causal_time():
    # 9 frames -> 3 latent frames: frame 0, frames 1-4, frames 5-8.
    video = torch.arange(9, dtype=torch.float32).view(1, 1, 9, 1, 1).expand(1, 3, 9, 4, 4)
    pooled = pool_to_latent_grid(video, 3, 2, 2)
    assert pooled.shape == (1, 3, 3, 2, 2)
    assert pooled[0, 0, :, 0, 0].tolist() == [0.0, 2.5, 6.5]


def test_fit_projection_recovers_a_linear_decoder():
    torch.manual_seed(0)
    weight = torch.randn(6, 3) * 0.3
    bias = torch.tensor([0.1, -0.2, 0.05])

    def decode(z):  # (B, C, F', h, w) -> (B, 3, F, H, W): linear per latent pixel, then upsampled
        rgb = torch.einsum("bcfhw,ck->bkfhw", z, weight) + bias.view(1, 3, 1, 1, 1)
        first, rest = rgb[:, :, :1], rgb[:, :, 1:].repeat_interleave(4, dim=2)
        return torch.cat([first, rest], dim=2).repeat_interleave(8, dim=3).repeat_interleave(8, dim=4)

    p = fit_projection(decode, (6, 3, 4, 4), samples=3)
    w, b = p.arrays()
    assert p.source == "fit" and p.r2 > 0.999
    assert np.allclose(w, weight.numpy(), atol=5e-3) and np.allclose(b, bias.numpy(), atol=5e-3)


def test_projection_round_trips_through_a_file(tmp_path):
    p = fixed_projection(4)
    p.save(tmp_path / "p" / "proj.json")
    assert read_projection(tmp_path / "p" / "proj.json") == p
    (tmp_path / "bad.json").write_text("{nope")
    assert read_projection(tmp_path / "bad.json") is None
    assert read_projection(tmp_path / "missing.json") is None


@pytest.mark.parametrize("preset,folder,channels", [("tiny", "tiny-ltx2", 4), ("tiny-ltx", "tiny-ltx", 8), ("tiny-wan", "tiny-wan", 48)])
def test_tiny_builds_store_a_projection_fitted_to_their_vae(tiny_models_root, preset, folder, channels):
    gen = load_generator(preset, tiny_models_root, device="cpu", options=GenOptions(sound="silent"))
    stored = read_projection(tiny_models_root / folder / PREVIEW_FILE)
    assert stored is not None and stored.source == "fit" and stored.channels == channels
    assert gen.projection == stored
    assert gen.applied["preview"].startswith("fit projection")
    assert projection_for(gen.preview_family, channels) == stored


def test_previews_of_a_real_run(tiny):
    gen = tiny
    previews: list[tuple[int, int, bytes]] = []
    gen.generate(
        "a fox in the snow",
        **SIZE,
        steps=3,
        seed=1,
        on_latents=lambda i, n, latents: previews.append((i, n, gen.render_preview(latents, max_side=128))),
    )
    assert [(i, n) for i, n, _ in previews] == [(1, 3), (2, 3), (3, 3)]
    images = [jpeg(data) for _, _, data in previews]
    assert all(im.size == (3 * 128, 128) for im in images)  # 3 latent frames side by side
    assert not np.array_equal(np.asarray(images[0]), np.asarray(images[-1]))  # the picture moves with denoising
    # The module-level function gives the same picture for the model's family.
    last = previews[-1][2]
    assert len(last) > 500


def test_real_presets_fit_their_projection_on_first_load_and_cache_it(tmp_path, tiny_models_root):
    # A "real" LTX-Video folder (the tiny build stands in) with no stored projection.
    shutil.copytree(tiny_models_root / "tiny-ltx", tmp_path / "ltx-video")
    (tmp_path / "ltx-video" / PREVIEW_FILE).unlink()
    gen = load_generator("ltx-video", tmp_path, device="cpu", options=GenOptions(sound="silent"))
    cached = tmp_path / PREVIEW_CACHE / "ltx-video.json"
    assert gen.projection.source == "fit" and cached.is_file()
    assert read_projection(cached) == gen.projection
    stamp = cached.stat().st_mtime_ns
    again = load_generator("ltx-video", tmp_path, device="cpu", options=GenOptions(sound="silent"))
    assert again.projection == gen.projection and cached.stat().st_mtime_ns == stamp

    # With fitting turned off and nothing cached: the documented fixed matrix.
    cached.unlink()
    fixed = load_generator("ltx-video", tmp_path, device="cpu", options=GenOptions(sound="silent", preview_fit=False))
    assert fixed.projection == fixed_projection(8) and not cached.exists()
