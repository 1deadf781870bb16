"""How far each int8 ONNX recipe moves predictions away from the fp32 ONNX model.

Agreement between two quantized artifacts is bounded by each one's agreement with the float
model, so this measures int8 variants (calibration method, which layers keep float activations,
whether those layers' weights go to int8) against fp32 on a labelled folder: top-1 agreement
overall and where the fp32 margin is small, size and single-thread latency. Run in the `[train]`
venv (it needs onnx and onnxruntime's quantization tools):

    python benchmarks/quant_sweep.py exports/mix/fingerspell-vgg16-fp32.onnx \
        --calib ../shared/data/train/multi --eval ../shared/data/dev/massey --json runs/sweep.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

BLOCK4_UP = ["block4_conv1", "block4_conv2", "block4_conv3", "block5_conv1", "block5_conv2",
             "block5_conv3", "head_norm", "predictions"]
BLOCK5_UP = BLOCK4_UP[3:]
BLOCK3 = ["block3_conv1", "block3_conv2", "block3_conv3"]

# name -> (calibration method, layers with float activations, int8 weights in those layers)
VARIANTS: dict[str, tuple[str, list[str], bool]] = {
    "minmax b1-3": ("MinMax", BLOCK4_UP, True),
    "minmax b1-3, float weights above": ("MinMax", BLOCK4_UP, False),
    "percentile b1-3": ("Percentile", BLOCK4_UP, True),
    "entropy b1-3": ("Entropy", BLOCK4_UP, True),
    "minmax b1-2": ("MinMax", BLOCK3 + BLOCK4_UP, True),
    "percentile b1-2": ("Percentile", BLOCK3 + BLOCK4_UP, True),
    "minmax b1-3, conv1 float": ("MinMax", ["block1_conv1", *BLOCK4_UP], True),
    "minmax b1-4": ("MinMax", BLOCK5_UP, True),
    "minmax b1-4, conv1 float": ("MinMax", ["block1_conv1", *BLOCK5_UP], True),
    "percentile b1-4": ("Percentile", BLOCK5_UP, True),
    "entropy b1-4": ("Entropy", BLOCK5_UP, True),
}


def run(path: Path, pixels: np.ndarray) -> tuple[np.ndarray, float]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # shares the machine with training; also the per-core cost
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = []
    t0 = time.perf_counter()
    for i in range(0, len(pixels), 16):
        out.append(sess.run(None, {name: pixels[i:i + 16]})[0])
    return np.concatenate(out), (time.perf_counter() - t0) / len(pixels) * 1000


def main() -> None:
    from fingerspell_export.exporter import quantize_onnx_int8, sample_images

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fp32", type=Path)
    ap.add_argument("--calib", type=Path, action="append", required=True)
    ap.add_argument("--calib-images", type=int, default=200)
    ap.add_argument("--eval", type=Path, required=True)
    ap.add_argument("--eval-images", type=int, default=100000)
    ap.add_argument("--variant", action="append", choices=list(VARIANTS),
                    help="default: all")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    calib, _ = sample_images(args.calib, args.calib_images, 150, 0)
    calib = np.concatenate([np.zeros((1, 150, 150, 3), np.uint8),
                            np.full((1, 150, 150, 3), 255, np.uint8), calib])
    pixels, labels = sample_images([args.eval], args.eval_images, 150, 0)
    ref, ms = run(args.fp32, pixels)
    top = np.sort(ref, axis=1)
    low = (top[:, -1] - top[:, -2]) < 0.1
    rows = [{"variant": "fp32", "mb": args.fp32.stat().st_size / 1e6, "ms_1thread": ms,
             "agree": 1.0, "agree_low_margin": 1.0,
             "accuracy": float((ref.argmax(1) == labels).mean())}]
    print(f"{len(pixels)} eval images, {low.mean():.1%} with fp32 margin < 0.1; "
          f"fp32 {ms:.0f} ms/img, accuracy {rows[0]['accuracy']:.4f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variant or list(VARIANTS):
            method, floats, int8_weights = VARIANTS[name]
            dst = Path(tmp) / "q.onnx"
            quantize_onnx_int8(args.fp32, dst, calib, tuple(floats), method, int8_weights)
            out, ms = run(dst, pixels)
            same = out.argmax(1) == ref.argmax(1)
            rows.append({"variant": name, "mb": dst.stat().st_size / 1e6, "ms_1thread": ms,
                         "agree": float(same.mean()), "agree_low_margin": float(same[low].mean()),
                         "accuracy": float((out.argmax(1) == labels).mean())})
            r = rows[-1]
            print(f"{name:36s} {r['mb']:6.1f} MB {ms:6.0f} ms  agree {r['agree']:.4f}  "
                  f"low-margin {r['agree_low_margin']:.4f}  acc {r['accuracy']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"eval": str(args.eval), "calib": [str(c) for c in
                                                                          args.calib],
                                         "low_margin_fraction": float(low.mean()),
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
