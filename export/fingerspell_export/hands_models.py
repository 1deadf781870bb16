"""MediaPipe's hand models as ONNX files the runtime ships: the hand crop and pose without MediaPipe.

    python -m fingerspell_export.hands_models \
        --tflite-dir .hands/lib/python3.11/site-packages/mediapipe/modules --out artifacts

MediaPipe Hands (Apache-2.0) is two small networks: a palm detector and a hand landmark model.
The `[hands]` extra ran them through MediaPipe itself, which pins numpy < 2 and protobuf < 5 and
weighs about 1 GB; `fingerspell.handmodels` runs the same two networks in onnxruntime, which the
runtime has anyway. This converts them (tf2onnx) from the `.tflite` files inside the mediapipe
0.10.21 wheel (`pip download mediapipe==0.10.21 --no-deps`, unzip, `mediapipe/modules`). Their
weights are stored in float16, as Google shipped them: every weight is checked to survive the
round trip exactly, so the ONNX computes what the `.tflite` computes, at half the fp32 size; and
PRelu is spelled in plain ops onnxruntime runs faster (the same numbers).
Where each file came from is written inside it (metadata `fingerspell.hands`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from fingerspell.artifact import sha256_file
from fingerspell.handmodels import HANDS_METADATA_KEY, LANDMARK_MODEL, PALM_MODEL

MEDIAPIPE_VERSION = "0.10.21"
# (file in the artifacts, as the runtime names it; the .tflite under mediapipe/modules; its job)
MODELS = (
    (PALM_MODEL, "palm_detection/palm_detection_full.tflite", "palm detector"),
    (LANDMARK_MODEL, "hand_landmark/hand_landmark_full.tflite", "hand landmarks"),
)
OPSET = 17


def to_float16_storage(model: object) -> int:
    """Store each float32 weight that float16 holds exactly as float16, cast back at run time
    (onnxruntime folds the casts when it loads the model). Returns how many were changed."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph  # type: ignore[attr-defined]
    changed = 0
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(init)
        half = w.astype(np.float16)
        if w.size < 16 or not np.array_equal(half.astype(np.float32), w):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT,
                                      name=name + "_cast"))
        changed += 1
    for i, node in enumerate(casts):
        graph.node.insert(i, node)
    return changed


def without_prelu(model: object) -> int:
    """PRelu(x, s) as Relu(x) - s * Relu(-x): onnxruntime's PRelu (no fused kernel) took 40 % of
    the palm detector's time; the four plain ops give the same numbers in 0.8 x the time."""
    from onnx import helper

    graph = model.graph  # type: ignore[attr-defined]
    nodes, changed = [], 0
    for node in graph.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        (x, slope), y = node.input, node.output[0]
        nodes += [helper.make_node("Relu", [x], [y + "_pos"]),
                  helper.make_node("Neg", [x], [y + "_negx"]),
                  helper.make_node("Relu", [y + "_negx"], [y + "_neg"]),
                  helper.make_node("Mul", [y + "_neg", slope], [y + "_negs"]),
                  helper.make_node("Sub", [y + "_pos", y + "_negs"], [y])]
        changed += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return changed


def convert(tflite: Path, out: Path, role: str) -> dict[str, object]:
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite),
                        "--output", str(raw), "--opset", str(OPSET)], check=True,
                       capture_output=True)
        model = onnx.load(raw)
    stored = to_float16_storage(model)
    prelus = without_prelu(model)
    info = {"role": role, "source": f"mediapipe {MEDIAPIPE_VERSION} {tflite.name}",
            "source_sha256": sha256_file(tflite), "license": "Apache-2.0 (MediaPipe)",
            "weights": "float16, exactly as in the .tflite"}
    entry = model.metadata_props.add()
    entry.key, entry.value = HANDS_METADATA_KEY, json.dumps(info)
    onnx.checker.check_model(model)
    onnx.save(model, out)
    return {"file": out.name, **info, "float16_weights": stored, "prelu_rewritten": prelus,
            "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflite-dir", type=Path, required=True,
                    help="mediapipe/modules of the mediapipe 0.10.21 wheel")
    ap.add_argument("--out", type=Path, default=Path("artifacts"))
    args = ap.parse_args(argv)
    for name, rel, role in MODELS:
        src = args.tflite_dir / rel
        if not src.is_file():
            sys.exit(f"{src}: not found (unzip the mediapipe {MEDIAPIPE_VERSION} wheel)")
        print(json.dumps(convert(src, args.out / name, role)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
