"""Snapping a model's kernels to the int8 grid: the int8 artifacts then re-round nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="needs the train extra")

from fingerspell_train.snap import snap_kernel


def test_a_snapped_kernel_sits_on_its_channels_grid_and_stays_there() -> None:
    rng = np.random.default_rng(0)
    w = (rng.normal(size=(3, 3, 4, 6)) * np.array([1e-3, 0.1, 1, 10, 3e-5, 0])).astype(np.float32)
    s = snap_kernel(w)
    peak = np.abs(s).reshape(-1, 6).max(axis=0)
    assert np.array_equal(peak, np.abs(w).reshape(-1, 6).max(axis=0))  # each channel's range kept
    steps = s / np.where(peak > 0, peak / 127, 1)
    assert np.abs(steps - np.round(steps)).max() < 1e-4
    assert np.abs(s - w).max(axis=(0, 1, 2)).tolist() <= (peak / 254 * 1.0001).tolist()
    assert not s[..., 5].any()  # an all-zero channel stays zero
    assert np.array_equal(snap_kernel(s), s)  # idempotent


def _dequantized_convs(path: Path) -> list[np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = []
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            q = inits[node.input[0]]
            if q.ndim == 4 and q.dtype == np.int8:  # conv weights, OIHW
                scale = inits[node.input[1]].reshape(-1, 1, 1, 1)
                out.append(q.astype(np.float32) * scale)
    return out


def test_the_int8_onnx_holds_a_snapped_models_kernels_exactly(tiny_run: Path, tiny_dataset: Path,
                                                                tmp_path: Path) -> None:
    import keras

    from fingerspell_export.exporter import ExportOptions, export
    from fingerspell_train.snap import snap_int8

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    model = keras.models.load_model(run / "model.keras")
    original = [layer.get_weights()[0] for layer in model.layers
                if type(layer).__name__ == "Conv2D"]
    assert snap_int8(model)
    snapped = [layer.get_weights()[0] for layer in model.layers
               if type(layer).__name__ == "Conv2D"]
    model.save(run / "model.keras")
    export(run / "model.keras", ExportOptions(
        out_dir=tmp_path / "out", calib_dirs=[tiny_dataset], parity_dirs=[tiny_dataset],
        formats=("onnx-fp32", "onnx-int8"), calib_images=30, parity_images=30, stem="t"))
    in_onnx = _dequantized_convs(tmp_path / "out" / "t-int8.onnx")
    assert len(in_onnx) == len(snapped) > 0
    for got, kernel, before in zip(in_onnx, snapped, original, strict=True):
        want = kernel.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        step = np.abs(want).reshape(len(want), -1).max(axis=1) / 127
        assert np.abs(got - want).max() <= 1e-3 * step.min()  # float error, no step moved
        # without the snap the export rounds: this is what the snap takes away
        assert np.abs(got - before.transpose(3, 2, 0, 1)).max() > 0.01 * step.max()
