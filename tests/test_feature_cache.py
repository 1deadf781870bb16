"""The feature cache is keyed by what the images are, so copies of the data find their entries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fingerspell_train")

from fingerspell_train.dataset import discover, mask_of
from fingerspell_train.features import FeatureCache, cache_key, legacy_cache_key

SPEC = {"weights": "test", "cache_layer": "x", "view": 0, "augment": None}


class CountingLower:
    """Stands in for the frozen network: mean colour per image, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        return batch.mean(axis=(1, 2))


def _root(path: Path) -> Path:
    rng = np.random.default_rng(0)
    for c in ("A", "B"):
        (path / c).mkdir(parents=True)
        for i in range(3):
            px = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(px).save(path / c / f"{i}.png")
    return path


def test_a_copy_elsewhere_with_new_mtimes_reuses_the_entry(tmp_path: Path) -> None:
    a = _root(tmp_path / "a")
    cache = tmp_path / "cache"
    lower = CountingLower()
    first, _ = FeatureCache(cache, discover(a), SPEC, (3,)).build(lower, 8, progress=False)
    assert lower.calls == 1
    b = tmp_path / "b"
    shutil.copytree(a, b)
    for f in b.glob("*/*"):
        os.utime(f, (1_000_000, 1_000_000))
    again, _ = FeatureCache(cache, discover(b), SPEC, (3,)).build(lower, 8, progress=False)
    assert lower.calls == 1  # nothing featurised again
    assert np.array_equal(first, again)


def test_changed_bytes_or_labels_make_a_new_key(tmp_path: Path) -> None:
    a = _root(tmp_path / "a")
    before = cache_key(discover(a), SPEC)
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(a / "A" / "0.png")
    assert cache_key(discover(a), SPEC) != before
    changed = cache_key(discover(a), SPEC)
    shutil.move(a / "A" / "1.png", a / "B" / "9.png")
    assert cache_key(discover(a), SPEC) != changed


def test_masks_count_only_where_the_augmentation_uses_them(tmp_path: Path) -> None:
    a = _root(tmp_path / "a")
    swap = {**SPEC, "view": 1, "augment": {"background": 0.5}}
    plain = {**SPEC, "view": 1, "augment": {"seed": 0}}
    keys = cache_key(discover(a), swap), cache_key(discover(a), plain)
    m = mask_of(a / "A" / "0.png")
    m.parent.mkdir(parents=True)
    Image.new("L", (12, 12), 255).save(m)
    assert cache_key(discover(a), swap) != keys[0]
    assert cache_key(discover(a), plain) == keys[1]


def test_entries_under_the_old_key_are_moved_not_rebuilt(tmp_path: Path) -> None:
    a = _root(tmp_path / "a")
    cache = tmp_path / "cache"
    samples = discover(a)
    lower = CountingLower()
    old = FeatureCache(cache, samples, SPEC, (3,))
    old.build(lower, 8, progress=False)
    old.dir.rename(cache / legacy_cache_key(samples, SPEC))  # as a format 1 run left it
    FeatureCache(cache, samples, SPEC, (3,)).build(lower, 8, progress=False)
    assert lower.calls == 1
    assert [p.name for p in cache.iterdir()] == [cache_key(samples, SPEC)]


def test_progress_into_a_pipe_is_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from fingerspell_train import features

    bar = features._progress(25, "features block4_pool view 0")  # stdout is not a tty here
    for done in (0, 8, 16, 25):
        bar.update(done)
    out, err = capsys.readouterr()
    # Keras's bar drew backspaces and carriage returns into logs and pipes
    assert "\r" not in out + err and "\x08" not in out + err
    assert err.splitlines()[0] == "features block4_pool view 0"
    assert err.splitlines()[-1] == "  25/25 images"
