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

from fingerspell.backends.onnx import MATMUL_FP32

BLOCK4_UP = ["block4_conv1", "block4_conv2", "block4_conv3", "block5_conv1", "block5_conv2",
             "block5_conv3", "head_norm", "predictions"]
BLOCK5_UP = BLOCK4_UP[3:]
BLOCK3 = ["block3_conv1", "block3_conv2", "block3_conv3"]
LAYERS_OF = {1: ["block1_conv1", "block1_conv2", "block1_pool"],
             2: ["block2_conv1", "block2_conv2", "block2_pool"],
             3: [*BLOCK3, "block3_pool"],
             4: ["block4_conv1", "block4_conv2", "block4_conv3", "block4_pool"]}


def float_except(*blocks: int) -> list[str]:
    """Float activations everywhere but in `blocks`: which block's int8 moves answers."""
    return [layer for b, layers in LAYERS_OF.items() if b not in blocks
            for layer in layers] + BLOCK5_UP

# name -> (calibration method, layers with float activations, int8 weights in those layers,
#          cross-layer equalisation exponent, 0 for none: see equalized())
VARIANTS: dict[str, tuple[str, list[str], bool] | tuple[str, list[str], bool, float]] = {
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
    **{f"minmax b{b} only": ("MinMax", float_except(b), True) for b in LAYERS_OF},
    "minmax b1-4, equalized 0.5": ("MinMax", BLOCK5_UP, True, 0.5),
    "minmax b1-4, equalized 1": ("MinMax", BLOCK5_UP, True, 1.0),
    # every activation float, every weight int8 (`--float-from auto` on a fully trained model)
    "int8 weights only": ("MinMax", float_except(), True),
}


def equalized(src: Path, dst: Path, calib: np.ndarray, alpha: float) -> None:
    """Cross-layer equalisation of `src` (after Nagel et al. 2019), exact in float.

    Output channel i of each convolution followed by ReLU (and max pooling) times c_i, input
    channel i of the next one divided by c_i; c_i = (tensor max / channel i's max) ** alpha on the
    calibration photos, so that per-tensor int8 activations give small channels more levels (the
    median channel of gpu-a2k's block2_conv2 peaks 14x below its tensor's maximum).
    """
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(src))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    relus = [n.output[0] for n in model.graph.node if n.op_type == "Relu"]
    assert len(relus) == len(convs), "expects one ReLU after every convolution"
    probe = onnx.load(str(src))
    for r in relus:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(r, onnx.TensorProto.FLOAT, None))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    peaks: list[np.ndarray] = []
    for i in range(len(calib)):
        acts = [a.max(axis=(0, 2, 3)) for a in sess.run(relus, {"pixels": calib[i:i + 1]})]  # NCHW
        peaks = acts if not peaks else [np.maximum(a, b) for a, b in zip(peaks, acts, strict=True)]
    init = {t.name: t for t in model.graph.initializer}

    def scale(name: str, factor: np.ndarray) -> None:
        arr = numpy_helper.to_array(init[name]).astype(np.float32) * factor
        init[name].CopyFrom(numpy_helper.from_array(arr, name))

    for conv, nxt, peak in zip(convs, convs[1:], peaks, strict=False):
        c = np.where(peak > 0, (peak.max() / np.maximum(peak, 1e-30)) ** alpha, 1.0)
        scale(conv.input[1], c[:, None, None, None])  # OIHW
        scale(conv.input[2], c)
        scale(nxt.input[1], 1 / c[None, :, None, None])
    onnx.save(model, str(dst))


def run(path: Path, pixels: np.ndarray) -> tuple[np.ndarray, float]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # shares the machine with training; also the per-core cost
    so.add_session_config_entry(*MATMUL_FP32)
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = []
    t0 = time.perf_counter()
    for i in range(0, len(pixels), 16):
        out.append(sess.run(None, {name: pixels[i:i + 16]})[0])
    return np.concatenate(out), (time.perf_counter() - t0) / len(pixels) * 1000


def quant_args(description: str) -> argparse.ArgumentParser:
    """The options this script and weight_sensitivity.py share: the model and the two folders."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("fp32", type=Path)
    ap.add_argument("--calib", type=Path, action="append", required=True)
    ap.add_argument("--calib-images", type=int, default=200)
    ap.add_argument("--eval", type=Path, required=True)
    return ap


def main() -> None:
    from fingerspell_export.exporter import quantize_onnx_int8, sample_images, with_range_frames

    ap = quant_args(__doc__.splitlines()[0])
    ap.add_argument("--eval-images", type=int, default=100000)
    ap.add_argument("--variant", action="append", choices=list(VARIANTS),
                    help="default: all")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    calib = with_range_frames(sample_images(args.calib, args.calib_images, 150, 0)[0])
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
            method, floats, int8_weights, *rest = VARIANTS[name]
            dst, src = Path(tmp) / "q.onnx", args.fp32
            if rest:
                src = Path(tmp) / "equalized.onnx"
                equalized(args.fp32, src, calib, rest[0])
                eq, _ = run(src, pixels[:50])
                print(f"equalized fp32 vs fp32, 50 images: max|dp| {np.abs(eq - ref[:50]).max():.1e}")
            quantize_onnx_int8(src, dst, calib, tuple(floats), method, int8_weights)
            out, ms = run(dst, pixels)
            same = out.argmax(1) == ref.argmax(1)
            rows.append({"variant": name, "mb": dst.stat().st_size / 1e6, "ms_1thread": ms,
                         "agree": float(same.mean()), "agree_low_margin": float(same[low].mean()),
                         "max_dp_mean": float(np.abs(out - ref).max(1).mean()),
                         "accuracy": float((out.argmax(1) == labels).mean())})
            r = rows[-1]
            print(f"{name:36s} {r['mb']:6.1f} MB {ms:6.0f} ms  agree {r['agree']:.4f}  "
                  f"low-margin {r['agree_low_margin']:.4f}  mean max|dp| {r['max_dp_mean']:.4f}  "
                  f"acc {r['accuracy']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"eval": str(args.eval), "calib": [str(c) for c in
                                                                          args.calib],
                                         "low_margin_fraction": float(low.mean()),
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
