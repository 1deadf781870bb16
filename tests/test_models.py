"""Presets build the documented layer stacks; preprocessing maps 0–255 as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="needs the train extra")

from fingerspell_train.backbone import (
    CAFFE_MEAN_BGR,
    CONV_NAMES,
    assign_conv_weights,
    read_conv_weights,
)
from fingerspell_train.presets import PRESETS, build_small_cnn, build_vgg, get_preset


def test_small_cnn_layer_stack() -> None:
    model = build_small_cnn(PRESETS["small-cnn"])
    kinds = [(type(layer).__name__, getattr(layer, "filters", None)) for layer in model.layers]
    assert kinds == [("InputLayer", None), ("Rescaling", None), ("Conv2D", 32),
                     ("MaxPooling2D", None), ("Conv2D", 32), ("Conv2D", 16), ("Conv2D", 16),
                     ("MaxPooling2D", None), ("Flatten", None), ("Dense", None)]
    assert model.output_shape == (None, 29)


def test_study_settings_are_exact() -> None:
    p = PRESETS["small-cnn"]
    assert (p.epochs, p.steps_per_epoch, p.batch_size) == (20, 50, 20)
    q = PRESETS["small-cnn-large-batch"]
    assert (q.epochs, q.steps_per_epoch, q.batch_size, q.val_batch_size) == (15, 100, 128, 64)
    v = PRESETS["vgg16"]
    assert v.trainable_from is None and v.head == "dense" and v.input_size == 150


def test_frozen_vgg16_is_vgg16_plus_dense() -> None:
    parts = build_vgg(PRESETS["vgg16"])
    convs = [layer.name for layer in parts.full.layers if layer.name.startswith("block")
             and "conv" in layer.name]
    assert convs == CONV_NAMES
    assert not any(layer.trainable for layer in parts.full.layers if layer.name in CONV_NAMES)
    assert [type(x).__name__ for x in parts.full.layers[-2:]] == ["Flatten", "Dense"]
    assert parts.full.output_shape == (None, 29) and parts.lower.output_shape == (None, 9, 9, 512)
    assert parts.full.count_params() == 14_714_688 + 4 * 4 * 512 * 29 + 29


def test_finetune_preset_trains_block5_only() -> None:
    assert PRESETS["vgg16-ft"].trainable_from == "block5_conv1"
    parts = build_vgg(get_preset("vgg16-ft"))
    trainable = {layer.name for layer in parts.full.layers if layer.trainable and layer.weights}
    assert {"block5_conv1", "block5_conv2", "block5_conv3"} <= trainable
    assert not trainable & set(CONV_NAMES[:10])
    assert parts.cache_layer == "block4_pool"


@pytest.mark.parametrize("mode,expect", [
    ("rescale", lambda px: px / 255.0),
    ("caffe", lambda px: px - np.array(CAFFE_MEAN_BGR[::-1])),
])
def test_preprocessing_layers(mode: str, expect) -> None:
    from fingerspell_train.backbone import preprocess_layer

    px = np.array([[[[0.0, 128.0, 255.0]]]], np.float32)
    got = np.asarray(preprocess_layer(mode)(px))
    np.testing.assert_allclose(got, expect(px), rtol=1e-6, atol=1e-4)


def _fake_weights(path: Path, layout: str) -> list[np.ndarray]:
    """Write VGG16-shaped random kernels in either file layout; return the kernels in order."""
    import h5py

    rng = np.random.default_rng(0)
    kernels = []
    cin = 3
    with h5py.File(path, "w") as fh:
        for b, n in enumerate((2, 2, 3, 3, 3), start=1):
            cout = (64, 128, 256, 512, 512)[b - 1]
            for c in range(n):
                k = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
                kernels.append(k)
                if layout == "keras":
                    g = fh.create_group(f"block{b}_conv{c + 1}/block{b}_conv{c + 1}")
                    g["kernel:0"], g["bias:0"] = k, np.zeros(cout, np.float32)
                else:
                    g = fh.create_group(f"block{b}/layers/conv2d{'_' + str(c) if c else ''}/vars")
                    g["0"], g["1"] = k, np.zeros(cout, np.float32)
                cin = cout
        fh.create_group("dsn1/vars")["0"] = np.zeros((1, 1, 64, 1), np.float32)  # HED side output
    return kernels


@pytest.mark.parametrize("layout", ["keras", "hed"])
def test_weights_loader_assigns_every_conv(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "w.h5"
    kernels = _fake_weights(path, layout)
    pairs = read_conv_weights(path)
    assert len(pairs) == 13
    for (k, _), want in zip(pairs, kernels, strict=True):
        np.testing.assert_array_equal(k, want)
    parts = build_vgg(get_preset("vgg16", input_size=32))
    assign_conv_weights(parts.full, pairs, "caffe")
    # caffe: the model takes RGB, so conv1's input channels are the file's BGR reversed
    np.testing.assert_array_equal(parts.full.get_layer("block1_conv1").get_weights()[0],
                                  kernels[0][:, :, ::-1, :])
    np.testing.assert_array_equal(parts.full.get_layer("block5_conv3").get_weights()[0],
                                  kernels[12])


def test_weights_loader_rejects_other_files(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as fh:
        fh["conv/kernel"] = np.zeros((3, 3, 3, 8), np.float32)
    with pytest.raises(ValueError, match="expected 13"):
        read_conv_weights(path)


def test_warmup_trains_the_head_alone_then_everything_at_the_finetune_rate() -> None:
    from fingerspell_train.fit import _convs, _phases

    preset = get_preset("vgg16-ft", input_size=32, trainable_from="block5_conv1", warmup_epochs=2,
                        learning_rate=1e-3, finetune_learning_rate=1e-4, epochs=5)
    top = build_vgg(preset).top
    assert _phases(preset, top) == [(2, 1e-3, False), (5, 1e-4, True)]
    assert [layer.name for layer in _convs(top)] == ["block5_conv1", "block5_conv2", "block5_conv3"]
    # without warmup one phase at the preset's rate; frozen convs are never counted as trainable
    frozen = get_preset("vgg16", input_size=32)
    assert _convs(build_vgg(frozen).top) == []
    assert _phases(frozen, build_vgg(frozen).top) == [(20, 1e-3, True)]
