"""fingerspell.handpose's pose numbers (the targets of `finetune.py --pose-aux`, made by
tools/gpu/pose.py, and the input of the runtime's pose head) must not change under what training
augmentation does to an image (shift, scale, tilt, mirror), or one target per image would be wrong
for most of its augmented views. Numpy only (MediaPipe runs in the tool alone)."""

from __future__ import annotations

import numpy as np
import pytest

from fingerspell import handpose as pose


def _hand(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(21, 3))


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q  # a proper rotation, no reflection


def test_features_ignore_shift_scale_rotation_and_mirror() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = _hand(rng)
        want = pose.pose_features(p)
        assert want.shape == (pose.NUM_FEATURES,) and np.isfinite(want).all()
        moved = (p @ _rotation(rng).T) * 2.7 + rng.normal(size=3)
        np.testing.assert_allclose(pose.pose_features(moved), want, atol=1e-5)
        mirrored = p * np.array([-1.0, 1.0, 1.0])
        np.testing.assert_allclose(pose.pose_features(mirrored), want, atol=1e-5)


def test_features_tell_a_bent_finger_from_a_straight_one() -> None:
    # a flat hand: wrist at the origin, five straight fingers fanned out in the plane
    p = np.zeros((21, 3))
    for f, chain in enumerate(pose.FINGERS):
        direction = np.array([1 + np.cos(0.3 * (f - 2)), np.sin(0.3 * (f - 2)), 0.0])
        for j, point in enumerate(chain[1:], 1):
            p[point] = direction * j
    flat = pose.pose_features(p)
    np.testing.assert_allclose(flat[:15], 1.0, atol=1e-6)  # every joint straight: cos 0 = 1
    bent = p.copy()
    bent[7] = p[6] + np.array([0.0, 0.0, 1.0])  # the index finger's middle joint bends 90°
    bent[8] = bent[7] + np.array([-1.0, 0.0, 0.0]) * 0.5
    got = pose.pose_features(bent)
    assert abs(got[4]) < 1e-6  # index, second joint: 90° → cos 0
    np.testing.assert_allclose(np.delete(got, [4, 5, 19, 23]), np.delete(flat, [4, 5, 19, 23]))
    # the thumb-to-index-tip distance, in palm lengths (wrist to the middle finger's base)
    palm = np.linalg.norm(p[9] - p[0])
    assert got[19] == pytest.approx(np.linalg.norm(bent[4] - bent[8]) / palm, rel=1e-6)
    assert got[19] != pytest.approx(flat[19])
