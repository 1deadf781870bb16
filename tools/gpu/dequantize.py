"""The weights an int8 ONNX artifact computes with, back in float, as `finetune.py` saves weights.

    python tools/gpu/dequantize.py artifacts/fingerspell-vgg16-int8.onnx --out runs/shipped-w

A shipped model's trained float weights are not kept (the artifacts hold one byte a weight); its
int8 ONNX still holds every kernel as integers and per-channel scales. This writes them back as
`weights_a.npz` / `weights_b.npz` and a `log.json`, so that `finetune.py --init-from` goes on
training from the shipped network and `unpack.py --snap-int8` makes a Keras run folder of the
float model whose kernels the artifacts hold exactly (the trained weights rounded to the int8
grid; the rounding is the artifact's, not redone). Kernels are written in float32, not the
float16 of a training run, so that no kernel leaves its grid. The conv biases of the layers with
int8 activations come back from their int32 quantization, whose step is the input's scale times
the kernel's (in the shipped model up to 0.023, a tenth of a typical bias, but under 0.7 % of one
step of the layer's int8 output); the head's batch norm, folded into a scale and a shift in the
artifact, comes back as that scale and shift (mean 0, variance 1 - epsilon).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

CONV = re.compile(r"(block\d_conv\d)")
EPSILON = 1e-3  # Keras BatchNormalization's default, which the vgg16-ft head keeps


def _attr(node: Any, name: str, default: int) -> int:
    return next((int(a.i) for a in node.attribute if a.name == name), default)


def _dequantized(node: Any, inits: dict[str, np.ndarray]) -> np.ndarray:
    q = inits[node.input[0]].astype(np.float64)
    scale = inits[node.input[1]].astype(np.float64)
    zero = inits[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros(1)
    if scale.size > 1:  # per channel along `axis` (ONNX's default axis is 1)
        shape = [1] * q.ndim
        shape[_attr(node, "axis", 1)] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape) if zero.size > 1 else zero
    return ((q - zero) * scale).astype(np.float32)


def float_values(graph: Any) -> dict[str, np.ndarray]:
    """Every tensor a node reads that is a constant, a dequantized one in float."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    values = dict(inits)
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            values[node.output[0]] = _dequantized(node, inits)
    return values


def weights_of(graph: Any) -> dict[str, np.ndarray]:
    """The 13 convs (HWIO), the head's batch norm and dense layer under their Keras names."""
    values = float_values(graph)
    out: dict[str, np.ndarray] = {}

    def const(name: str, what: str) -> np.ndarray:
        if name not in values:
            raise ValueError(f"{what} is not a constant of the graph")
        return values[name]

    def bias(node: Any, width: int, what: str) -> np.ndarray:
        if len(node.input) > 2 and node.input[2]:
            return const(node.input[2], what).reshape(-1)
        adds = [n for n in graph.node if n.op_type == "Add" and node.output[0] in n.input]
        if adds:  # added after the product
            (side,) = [x for x in adds[0].input if x != node.output[0]]
            return const(side, what).reshape(-1)
        return np.zeros(width, np.float32)  # tf2onnx leaves out a bias of zeros

    for node in graph.node:
        found = CONV.search(node.name)
        if node.op_type == "Conv" and found:
            name = found.group(1)
            if f"{name}/kernel" in out:
                raise ValueError(f"two convs named {name}")
            kernel = const(node.input[1], f"{name}'s kernel")
            out[f"{name}/kernel"] = kernel.transpose(2, 3, 1, 0)
            out[f"{name}/bias"] = bias(node, len(kernel), f"{name}'s bias")
        elif node.op_type in ("Gemm", "MatMul") and "predictions" in node.name:
            kernel = const(node.input[1], "the dense kernel")
            out["predictions/kernel"] = kernel.T if _attr(node, "transB", 0) else kernel
            out["predictions/bias"] = bias(node, out["predictions/kernel"].shape[-1],
                                           "the dense bias")
        elif node.op_type in ("Mul", "Add") and "head_norm" in node.name:
            (side,) = [x for x in node.input if x in values]
            key = "head_norm/gamma" if node.op_type == "Mul" else "head_norm/beta"
            if key in out:
                raise ValueError(f"the head's batch norm is not one scale and one shift ({node.name})")
            out[key] = values[side].reshape(-1).astype(np.float32)
    convs = sorted({k.split("/")[0] for k in out if k.startswith("block")})
    missing = {"head_norm/gamma", "head_norm/beta", "predictions/kernel"} - set(out)
    if len(convs) != 13 or missing:
        raise ValueError(f"not a vgg16-ft artifact ({len(convs)} convs found, "
                         f"missing {sorted(missing)})")
    width = len(out["head_norm/gamma"])
    out["head_norm/mean"] = np.zeros(width, np.float32)
    out["head_norm/var"] = np.full(width, 1 - EPSILON, np.float32)
    return out


def write(path: Path, out: Path) -> dict:
    """weights_a.npz (blocks 1-4), weights_b.npz (block 5, the head, meta) and log.json."""
    import onnx

    model = onnx.load(str(path))
    weights = weights_of(model.graph)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    props = {p.key: p.value for p in model.metadata_props}
    metadata = json.loads(props["fingerspell"]) if "fingerspell" in props else {}
    source = {"artifact": str(path), "sha256": digest,
              "keras_sha256": metadata.get("artifact", {}).get("keras_sha256"),
              "training_command": metadata.get("training", {}).get("command")}
    preset = metadata.get("training", {}).get("preset", {})
    meta = {"epoch": 0, "weights": "dequantized", "dequantized_from": source}
    a = {k: v for k, v in weights.items() if k.startswith("block") and not k.startswith("block5")}
    b = {k: v for k, v in weights.items() if k not in a}
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights_a.npz", **a)
    np.savez(out / "weights_b.npz", **b, meta=np.array(json.dumps(meta)))
    # unpack.py reads its run record from log.json: no epochs were run here
    log = {"dequantized_from": source, "device": "none (dequantized from an artifact)",
           "torch": None, "train_seconds": 0.0, "train": None, "val": None, "history": [],
           "args": {"batch": preset.get("batch_size", 128),
                    "lr": preset.get("finetune_learning_rate", 0.0)},
           "augment": {"background": preset.get("background_swap", 0.0)}}
    (out / "log.json").write_text(json.dumps(log, indent=1))
    return source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact", type=Path, help="an int8 (or fp32) ONNX artifact of vgg16-ft")
    ap.add_argument("--out", type=Path, required=True, help="the weights folder to write")
    args = ap.parse_args()
    from google.protobuf.message import DecodeError  # what onnx raises on a file that is not ONNX

    try:
        source = write(args.artifact, args.out)
    except (OSError, ValueError, KeyError, DecodeError) as exc:
        raise SystemExit(f"{args.artifact}: {exc}") from None
    print(json.dumps(source, indent=1))


if __name__ == "__main__":
    main()
