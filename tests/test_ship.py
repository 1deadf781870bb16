"""The ship step's comparison of the two shipped artifacts."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx", reason="the ship step lives in the [train] toolchain")

from fingerspell_export.ship import cross_agreement


def test_cross_agreement_counts_clear_and_skips_unreadable() -> None:
    a = {"labels": ["A", "B", "C", None, "E"], "margins": [0.5, 0.05, 0.3, None, 0.02]}
    b = {"labels": ["A", "C", "C", "D", None], "margins": [0.4, 0.1, 0.2, 0.1, None]}
    x = cross_agreement(a, b)
    assert x["n"] == 3  # the images either artifact could not read are left out
    assert x["agreement"] == pytest.approx(2 / 3)
    assert x["clear_fraction"] == pytest.approx(2 / 3)
    assert x["clear_agreement"] == 1.0  # the one disagreement had a margin under 0.1
