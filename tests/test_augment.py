"""Augmentation: the background swap touches only masked images and only their background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fingerspell_train")

from fingerspell_train.augment import AugmentConfig, augment, random_background, swap_background
from fingerspell_train.dataset import mask_of
from fingerspell_train.features import load_pixels


def _hand_and_mask(size: int = 64) -> tuple[Image.Image, Image.Image]:
    """A grey 'scene' with a bright square 'hand' in the middle and its exact mask."""
    px = np.full((size, size, 3), 90, np.uint8)
    m = np.zeros((size, size), np.uint8)
    q = size // 4
    px[q:-q, q:-q] = (230, 180, 150)
    m[q:-q, q:-q] = 255
    return Image.fromarray(px), Image.fromarray(m)


def test_config_without_background_keeps_its_old_dict() -> None:
    # the feature cache is keyed by this dict: runs without the option keep their caches
    assert "background" not in AugmentConfig().to_dict()
    assert AugmentConfig(background=0.5).to_dict()["background"] == 0.5


def test_swap_keeps_the_hand_and_replaces_the_scene() -> None:
    img, mask = _hand_and_mask()
    changed = 0
    for seed in range(12):
        out = np.asarray(swap_background(img, mask, np.random.default_rng(seed)))
        assert (out[16:-16, 16:-16] == (230, 180, 150)).all()
        changed += (out[:8, :8] != 90).any()
    assert changed >= 10  # a grey (90, 90, 90) background is drawn rarely, never every time


@pytest.mark.parametrize("seed", range(8))
def test_backgrounds_are_images_of_the_asked_size(seed: int) -> None:
    bg = random_background(np.random.default_rng(seed), 40, 30)
    assert bg.shape == (30, 40, 3) and bg.dtype == np.uint8


def test_without_a_mask_the_option_changes_nothing() -> None:
    img, _ = _hand_and_mask()
    plain = augment(img, np.random.default_rng(3), AugmentConfig())
    asked = augment(img, np.random.default_rng(3), AugmentConfig(background=1.0), None)
    assert np.array_equal(np.asarray(plain), np.asarray(asked))


def test_load_pixels_uses_the_mask_beside_the_root(tmp_path: Path) -> None:
    img, mask = _hand_and_mask()
    path = tmp_path / "A" / "x.jpg"
    path.parent.mkdir()
    img.save(path, quality=95)
    cfg = AugmentConfig(background=1.0, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0),
                        rotate_deg=0.0, color=0.0, hflip=0.0, blur=0.0, jpeg=0.0)
    before = load_pixels(path, 64, view=1, aug=cfg)
    mask_of(path).parent.mkdir(parents=True)
    mask.save(mask_of(path))
    after = load_pixels(path, 64, view=1, aug=cfg)
    assert before is not None and after is not None
    assert np.abs(before[24:40, 24:40].astype(int) - after[24:40, 24:40]).max() <= 3  # the hand
    assert not np.array_equal(before[:8, :8], after[:8, :8])  # the scene
    assert np.array_equal(load_pixels(path, 64, view=0, aug=cfg), load_pixels(path, 64))
