"""Put a model's weights on the int8 grid its artifacts use, so the float model is the shipped one.

Every int8 artifact rounds each conv and dense kernel per output channel to 255 levels
(symmetric, scale = channel max / 127: onnxruntime's per-channel QInt8, the exporter's weight-only
layers and the TFLite converter alike). On strangers' photos, with many near-ties, that rounding
alone moved 1 % of the answers away from the float model (docs/export.md). Snapped first, the
Keras model is scored, reported and compared in parity as it will run: the artifacts re-round
nothing, and only the int8 activations can still move an answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def snap_kernel(w: np.ndarray) -> np.ndarray:
    """`w` rounded per output channel (the last axis, Keras' layout) to scale * {-127..127}."""
    w64 = w.astype(np.float64)
    peak = np.abs(w64).reshape(-1, w.shape[-1]).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    return (np.clip(np.round(w64 / scale), -127, 127) * scale).astype(w.dtype)


def snap_int8(model: Any) -> list[str]:
    """Snap the kernel of every Conv2D and Dense layer of `model` (nested models too) in place;
    returns their names."""
    done = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            done += snap_int8(layer)
        elif type(layer).__name__ in ("Conv2D", "Dense"):
            weights = layer.get_weights()
            weights[0] = snap_kernel(weights[0])
            layer.set_weights(weights)
            done.append(layer.name)
    return done
