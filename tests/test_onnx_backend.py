"""The onnxruntime backend computes what an int8 artifact declares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")


def _int8_head_model(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 pixels -> a float dense layer from int8 weights (per output column) -> softmax,
    the shape of the shipped artifact's head; returns the integers and their scales."""
    from onnx import TensorProto, helper, numpy_helper

    from fingerspell.artifact import METADATA_KEY
    from fingerspell.schema import CLASSES, InputSpec, ModelMetadata

    rng = np.random.default_rng(0)
    q = rng.integers(-127, 128, (16 * 16 * 3, len(CLASSES)), dtype=np.int8)
    scale = rng.uniform(1e-5, 4e-5, len(CLASSES)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("DequantizeLinear", ["wq", "wscale", "wzero"], ["w"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "int8-head",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["n", 16, 16, 3])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", len(CLASSES)])],
        [numpy_helper.from_array(q, "wq"), numpy_helper.from_array(scale, "wscale"),
         numpy_helper.from_array(np.zeros(len(CLASSES), np.int8), "wzero"),
         numpy_helper.from_array(np.array([-1, 16 * 16 * 3], np.int64), "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = ModelMetadata("int8-head", "1", list(CLASSES), InputSpec(16, 16), "none")
    helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.save(model, str(path))
    return q, scale


def test_a_float_layer_with_int8_weights_is_computed_in_float(tmp_path: Path) -> None:
    # onnxruntime fuses DequantizeLinear -> MatMul into MatMulNBits, which by default quantizes
    # the layer's input on the fly: 1.8e-3 off on the shipped model's dev photos
    from fingerspell.backends.onnx import OnnxBackend

    q, scale = _int8_head_model(tmp_path / "head.onnx")
    pixels = np.random.default_rng(1).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    z = pixels.reshape(8, -1).astype(np.float64) @ (q.astype(np.float64) * scale)
    e = np.exp(z - z.max(1, keepdims=True))
    want = e / e.sum(1, keepdims=True)
    got = OnnxBackend(tmp_path / "head.onnx").run(pixels)
    assert np.abs(got - want).max() < 1e-5
