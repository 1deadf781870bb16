"""Augmentations that model real photos: other framings, scales, tilts, light and cameras."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    seed: int = 0
    crop_scale: tuple[float, float] = (0.6, 1.0)  # area kept by the random crop
    crop_ratio: tuple[float, float] = (0.8, 1.25)
    rotate_deg: float = 12.0
    color: float = 0.3  # brightness, contrast and saturation jitter (+/-)
    hflip: float = 0.5  # probability of a mirror image (a left-handed signer)
    blur: float = 0.2  # probability of a slight blur
    jpeg: float = 0.3  # probability of a low-quality JPEG round trip

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def augment(img: Any, rng: np.random.Generator, cfg: AugmentConfig) -> Any:
    """Return a randomly altered copy of an RGB PIL image (any size; resized later)."""
    from PIL import Image, ImageEnhance, ImageFilter

    w, h = img.size
    area = w * h * rng.uniform(*cfg.crop_scale)
    ratio = np.exp(rng.uniform(np.log(cfg.crop_ratio[0]), np.log(cfg.crop_ratio[1])))
    cw = int(min(w, round(np.sqrt(area * ratio))))
    ch = int(min(h, round(np.sqrt(area / ratio))))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    if cfg.rotate_deg:
        img = img.rotate(float(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)),
                         resample=Image.Resampling.BILINEAR, expand=False)
    if rng.random() < cfg.hflip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        img = enhancer(img).enhance(float(rng.uniform(1 - cfg.color, 1 + cfg.color)))
    if rng.random() < cfg.blur:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    if rng.random() < cfg.jpeg:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(30, 75)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img
