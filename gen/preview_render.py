"""Live previews: a cheap picture of the latents at a denoising step.

Owns turning one video's latents ``(channels, latent_frames, latent_height,
latent_width)``, still in the model's normalised latent space, into a small
JPEG: a few frames across time, side by side. No VAE runs here: each latent
pixel goes through a linear map ``rgb = latents @ weight + bias`` (a
:class:`Projection`), then the strip is scaled up and JPEG-encoded. At latent
resolution that is a few thousand multiply-adds per pixel of output, well
under a millisecond for the matrix and a few milliseconds for the JPEG.

Where the matrix comes from:

* :func:`fit_projection` fits it by least squares against the model's own VAE:
  random normalised latents are decoded to pixels, the pixels are averaged
  down to the latent grid (the VAE's spatial and temporal compression), and
  ``[latents, 1] -> rgb`` is solved with a small ridge term. The fit is done
  once per model: the tiny presets do it at build time and store it in their
  folder (``fabula-preview.json``); real presets do it on first load (one
  small VAE decode) and cache it next to the models. This works for any
  channel count (LTX-Video and LTX-2 have 128 latent channels, Wan 2.1 has 16,
  Wan 2.2 TI2V 48, the tiny presets 4 to 48) and needs no third-party tables.
* :func:`fixed_projection` is the documented fallback when nothing was fitted
  for a family: channel ``c`` of ``C`` adds ``cos(2*pi*(c/C + k/3))`` to colour
  ``k``, scaled by ``1/sqrt(C)``. Normalised latents are roughly unit
  Gaussian, so each colour gets variance 1/2 (for C >= 3) in the [-1, 1]
  pixel range: structure shows as colour, pure noise as speckle. It is not
  faithful to any VAE, only stable and cheap.

``render_preview(latents, family)`` picks the projection registered for that
family and channel count (:func:`register_projection`, done by the generator
when it loads) or the fixed fallback.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import numpy as np

if TYPE_CHECKING:
    import torch

PREVIEW_FILE = "fabula-preview.json"
JPEG_QUALITY = 80


class Projection(msgspec.Struct, frozen=True, kw_only=True):
    """A linear latent -> RGB map: ``rgb = latents @ weight + bias`` with rgb in [-1, 1]."""

    weight: list[list[float]]  # channels x 3
    bias: list[float]  # 3
    # "fit" (least squares against the VAE) or "fixed" (the documented fallback).
    source: str = "fixed"
    # Share of pixel variance the fit explains on its own samples (fits only).
    r2: float | None = None

    @property
    def channels(self) -> int:
        return len(self.weight)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.weight, dtype=np.float32), np.asarray(self.bias, dtype=np.float32)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(msgspec.json.encode(self))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Projection:
        return msgspec.json.decode(Path(path).read_bytes(), type=cls)


def fixed_projection(channels: int) -> Projection:
    """The documented fallback matrix for ``channels`` latent channels (see the module docstring)."""
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    c = np.arange(channels, dtype=np.float64)[:, None] / channels
    k = np.arange(3, dtype=np.float64)[None, :] / 3.0
    weight = np.cos(2.0 * math.pi * (c + k)) / math.sqrt(channels)
    return Projection(weight=weight.astype(np.float32).tolist(), bias=[0.0, 0.0, 0.0], source="fixed")


_registry: dict[tuple[str, int], Projection] = {}
_arrays: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
_registry_lock = threading.Lock()


def register_projection(family: str, projection: Projection) -> None:
    """Make ``projection`` the one ``render_preview`` uses for ``family`` latents of its channel count."""
    key = (family, projection.channels)
    with _registry_lock:
        _registry[key] = projection
        _arrays.pop(key, None)


def projection_for(family: str, channels: int) -> Projection:
    """The projection registered for ``family`` and ``channels``, else the fixed fallback."""
    with _registry_lock:
        found = _registry.get((family, channels))
    return found if found is not None else fixed_projection(channels)


def _projection_arrays(family: str, channels: int) -> tuple[np.ndarray, np.ndarray]:
    key = (family, channels)
    hit = _arrays.get(key)
    if hit is None:
        hit = projection_for(family, channels).arrays()
        with _registry_lock:
            _arrays[key] = hit
    return hit


def pick_frames(latent_frames: int, frames: int) -> list[int]:
    """Up to ``frames`` latent frame indices spread evenly from first to last."""
    if frames < 1:
        raise ValueError(f"frames must be positive, got {frames}")
    if latent_frames <= frames:
        return list(range(latent_frames))
    return sorted({int(round(x)) for x in np.linspace(0, latent_frames - 1, frames)})


def latents_to_rgb(latents: torch.Tensor | np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Project (C, F, h, w) latents to uint8 RGB frames (F, h, w, 3)."""
    array = _as_numpy(latents)
    if array.ndim != 4:
        raise ValueError(f"latents must be shaped (channels, frames, height, width), got {tuple(array.shape)}")
    if array.shape[0] != weight.shape[0]:
        raise ValueError(f"latents have {array.shape[0]} channels but the projection takes {weight.shape[0]}")
    rgb = np.einsum("cfhw,ck->fhwk", array, weight, optimize=True) + bias
    return np.clip((rgb + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def _as_numpy(latents) -> np.ndarray:
    if isinstance(latents, np.ndarray):
        return latents.astype(np.float32, copy=False)
    import torch

    with torch.no_grad():
        return latents.detach().to(device="cpu", dtype=torch.float32).numpy()


def render_preview(
    latents: torch.Tensor,
    family: str,
    max_side: int = 256,
    frames: int = 4,
    projection: Projection | None = None,
) -> bytes:
    """A JPEG of up to ``frames`` frames of ``latents`` (C, F', h', w') across time, side by side.

    Each frame is scaled (bilinear) so that its longer side is ``max_side``
    pixels; the strip is ``len(frames) * width`` wide. ``projection`` defaults
    to the one registered for ``family`` and the latents' channel count.
    """
    from PIL import Image

    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    shape = tuple(latents.shape)
    if len(shape) != 4:
        raise ValueError(f"latents must be shaped (channels, frames, height, width), got {shape}")
    channels, latent_frames, h, w = shape
    if projection is None:
        weight, bias = _projection_arrays(family, channels)
    else:
        weight, bias = projection.arrays()
    index = pick_frames(latent_frames, frames)
    chosen = latents[:, index] if len(index) < latent_frames else latents
    rgb = latents_to_rgb(chosen, weight, bias)  # (k, h, w, 3)
    strip = np.ascontiguousarray(rgb.transpose(1, 0, 2, 3).reshape(h, len(index) * w, 3))
    scale = max_side / max(h, w)
    out_w, out_h = max(1, round(w * scale)) * len(index), max(1, round(h * scale))
    image = Image.fromarray(strip)
    if (out_w, out_h) != image.size:
        image = image.resize((out_w, out_h), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def pool_to_latent_grid(video: torch.Tensor, latent_frames: int, latent_height: int, latent_width: int) -> torch.Tensor:
    """Average decoded pixels (B, 3, F, H, W) down to the latent grid (B, 3, F', h', w').

    Time follows the causal video VAEs (LTX, Wan): latent frame 0 is pixel
    frame 0, latent frame t >= 1 covers pixel frames (t-1)*r+1 .. t*r.
    """
    import torch
    import torch.nn.functional as F

    b, c, f, _, _ = video.shape
    spatial = F.adaptive_avg_pool3d(video.float(), (f, latent_height, latent_width))
    if latent_frames == 1:
        return spatial.mean(dim=2, keepdim=True)
    r = (f - 1) // (latent_frames - 1)
    if r >= 1 and (latent_frames - 1) * r + 1 == f:
        groups = [spatial[:, :, :1]]
        groups += [spatial[:, :, 1 + (t - 1) * r : 1 + t * r].mean(dim=2, keepdim=True) for t in range(1, latent_frames)]
        return torch.cat(groups, dim=2)
    return F.adaptive_avg_pool3d(spatial, (latent_frames, latent_height, latent_width))


def fit_projection(
    decode: Callable[[torch.Tensor], torch.Tensor],
    latent_shape: tuple[int, int, int, int],
    samples: int = 4,
    seed: int = 0,
    ridge: float = 1e-3,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
) -> Projection:
    """Least-squares latent -> RGB map for one model (see the module docstring).

    ``decode`` takes normalised latents (B, C, F', h', w') and returns pixels
    (B, 3, F, H, W) in [-1, 1]; ``latent_shape`` is (C, F', h', w') of the
    random latents to decode, one at a time.
    """
    import torch

    channels, lf, lh, lw = latent_shape
    gen = torch.Generator(device="cpu").manual_seed(seed)
    xs, ys = [], []
    with torch.inference_mode():
        for _ in range(samples):
            z = torch.randn((1, channels, lf, lh, lw), generator=gen)
            video = decode(z.to(device=device, dtype=dtype or torch.float32))
            pooled = pool_to_latent_grid(video.float().cpu(), lf, lh, lw)
            xs.append(z[0].reshape(channels, -1).T.double())
            ys.append(pooled[0].reshape(3, -1).T.double())
    x = torch.cat(xs)
    y = torch.cat(ys)
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    eye = torch.eye(channels + 1, dtype=x.dtype) * ridge * len(x)
    eye[-1, -1] = 0.0  # no penalty on the bias
    solution = torch.linalg.solve(x1.T @ x1 + eye, x1.T @ y)
    residual = y - x1 @ solution
    total = ((y - y.mean(dim=0)) ** 2).sum()
    r2 = float(1.0 - (residual**2).sum() / total) if float(total) > 0 else 0.0
    weight, bias = solution[:-1], solution[-1]
    return Projection(weight=weight.float().tolist(), bias=bias.float().tolist(), source="fit", r2=round(r2, 4))


def read_projection(path: Path) -> Projection | None:
    try:
        return Projection.load(path)
    except (OSError, ValueError, msgspec.DecodeError):
        return None


__all__ = [
    "PREVIEW_FILE",
    "Projection",
    "fit_projection",
    "fixed_projection",
    "latents_to_rgb",
    "pick_frames",
    "projection_for",
    "read_projection",
    "register_projection",
    "render_preview",
]
