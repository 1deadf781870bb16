"""Weight-only int8 for the layers an int8 export keeps float.

Static int8 quantizes weights and activations; for layers whose activations cannot take 8 bits
(measured on the HED model: the fine-tuned block5 and the head), keeping them float triples the
file. Here their weights alone become int8 (symmetric, per output channel) behind a
DequantizeLinear, so the file stays near one byte per weight while they still compute in float.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Weight input index and output-channel axis of the weight, per op type.
WEIGHT_AXES = {"Conv": (1, 0), "Gemm": (1, None), "MatMul": (1, 1)}


def quantize_weights(model: Any, node_names: set[str]) -> int:
    """Replace the float weights of the named Conv/Gemm/MatMul nodes by int8 + DequantizeLinear.

    Returns how many weights were replaced. Weights that are not initializers stay as they are.
    """
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    new_nodes = []
    done = 0
    for node in model.graph.node:
        if node.name not in node_names or node.op_type not in WEIGHT_AXES:
            continue
        index, axis = WEIGHT_AXES[node.op_type]
        if node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        name = node.input[index]
        if name not in inits:
            continue
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        reduce = tuple(d for d in range(w.ndim) if d != axis)
        scale = np.abs(w).max(axis=reduce) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        model.graph.initializer.remove(inits[name])
        model.graph.initializer.extend([
            numpy_helper.from_array(q, f"{name}_wq"),
            numpy_helper.from_array(scale, f"{name}_wscale"),
            numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{name}_wzero")])
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_wq", f"{name}_wscale",
                                                               f"{name}_wzero"], [name],
                                          name=f"{name}_dequantize", axis=axis))
        done += 1
    # producers first: the graph must stay topologically sorted
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes + nodes)
    return done
