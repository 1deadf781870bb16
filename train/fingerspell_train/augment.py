"""Augmentations that model real photos: other framings, scales, tilts, light, cameras, rooms."""

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
    background: float = 0.0  # probability of a new background, for images with a hand mask

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.background:  # configs from before this option keep their cache keys
            del d["background"]
        return d


def random_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A scene without a hand: dark, one colour, a gradient, or smooth blotches (uint8 HxWx3)."""
    kind = rng.choice(4, p=[0.25, 0.25, 0.2, 0.3])
    if kind == 0:  # a dark room or dark clothing
        return np.broadcast_to(rng.integers(0, 30, 3), (height, width, 3)).astype(np.uint8)
    if kind == 1:
        return np.broadcast_to(rng.integers(0, 256, 3), (height, width, 3)).astype(np.uint8)
    if kind == 2:
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:height, 0:width]
        t = np.cos(angle) * xx / width + np.sin(angle) * yy / height
        t = (t - t.min()) / max(np.ptp(t), 1e-6)
        return (a + (b - a) * t[..., None]).astype(np.uint8)
    from PIL import Image

    cells = int(rng.integers(2, 12))
    low = rng.integers(0, 256, (cells, cells, 3)).astype(np.uint8)
    img = Image.fromarray(low).resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 8, (height, width, 3))
    return np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8)


def swap_background(img: Any, mask: Any, rng: np.random.Generator) -> Any:
    """The hand (mask: L image, 255 = hand) pasted on a random background."""
    from PIL import Image

    alpha = np.asarray(mask.resize(img.size), np.float32)[..., None] / 255.0
    bg = random_background(rng, img.width, img.height).astype(np.float32)
    out = np.asarray(img, np.float32) * alpha + bg * (1.0 - alpha)
    return Image.fromarray(out.round().astype(np.uint8))


def augment(img: Any, rng: np.random.Generator, cfg: AugmentConfig, mask: Any = None) -> Any:
    """Return a randomly altered copy of an RGB PIL image (any size; resized later).

    With a hand mask, the background is replaced first with probability `cfg.background`; without
    one, the random draws are exactly those of the plain augmentation.
    """
    from PIL import Image, ImageEnhance, ImageFilter

    if mask is not None and cfg.background and rng.random() < cfg.background:
        img = swap_background(img, mask, rng)
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
