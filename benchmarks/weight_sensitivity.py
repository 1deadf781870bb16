"""Which layers' int8 weights move answers, and whether better rounding buys agreement back.

`quant_sweep.py` found that int8 weights alone (every activation float) already move ~1 % of
`dev/massey`'s answers away from fp32. This script splits that 1 % by layer (each layer's
weights int8, the rest float), tries two cheap cures on the all-int8-weights model and, for
scale, every weight in fp16; last, the shipped int8 recipe on a model whose weights were snapped
to the int8 grid first (`fingerspell_train.snap`), scored against that snapped model:
  - mse:  per output channel, the clipping of the int8 range that minimises the weights' squared
          rounding error (instead of the channel's maximum);
  - bias: empirical bias correction (Nagel et al. 2019): layer by layer, the mean per channel of
          (quantized conv output - fp32 conv output) on calibration photos is taken out of that
          conv's bias.
Calibration photos come from --calib (never the --eval folder). Run in the `[train]` venv:

    python benchmarks/weight_sensitivity.py exports/gpu-l2k/fingerspell-vgg16-fp32.onnx \
        --calib ../shared/data/train/multi --eval ../shared/data/dev/massey \
        --artifact artifacts/fingerspell-vgg16-int8.onnx --json runs/wsens.json
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.backends.onnx import MATMUL_FP32
from fingerspell_train.snap import snap_kernel

WEIGHT_OPS = ("Conv", "MatMul", "Gemm")


def session(model: Any, threads: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.add_session_config_entry(*MATMUL_FP32)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def predict(model: Any, pixels: np.ndarray, threads: int, outputs: list[str] | None = None
            ) -> list[np.ndarray]:
    sess = session(model, threads)
    names = outputs or [sess.get_outputs()[0].name]
    chunks: list[list[np.ndarray]] = [[] for _ in names]
    for i in range(0, len(pixels), 8):
        for c, out in zip(chunks, sess.run(names, {"pixels": pixels[i:i + 8]}), strict=True):
            c.append(out)
    return [np.concatenate(c) for c in chunks]


def short(name: str) -> str:
    return next((p[:-2] for p in name.split("/") if p.endswith("_1") and "flip" not in p
                 and "vgg16" not in p), name)


def mse_snap(w: np.ndarray) -> np.ndarray:
    """Like `snap_kernel`, but each channel's clip is the one that minimises rounding error."""
    flat = w.reshape(-1, w.shape[-1])
    peak = np.abs(flat).max(axis=0)
    best, err = snap_kernel(w), np.full(len(peak), np.inf)
    for ratio in np.linspace(0.5, 1.0, 51):
        s = np.maximum(peak * ratio / 127.0, 1e-12)
        q = np.clip(np.round(w / s), -127, 127) * s
        e = ((q - w) ** 2).reshape(-1, w.shape[-1]).sum(axis=0)
        better = e < err
        err[better] = e[better]
        best[..., better] = q[..., better]
    return best.astype(w.dtype)


def fp16_round(w: np.ndarray) -> np.ndarray:
    return w.astype(np.float16).astype(w.dtype)


def fake_quant(model: Any, names: set[str],
               rounding: Callable[[np.ndarray], np.ndarray] = snap_kernel) -> Any:
    """A copy of `model` whose named nodes' weights went through `rounding` (output channels on
    the last axis, as `snap_kernel` takes them) and stay in float."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {t.name: t for t in out.graph.initializer}
    for node in out.graph.node:
        if node.name not in names or node.op_type not in WEIGHT_OPS:
            continue
        w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        axis = 0 if node.op_type == "Conv" else 1  # Conv OIHW; MatMul (in, out)
        q = np.moveaxis(rounding(np.moveaxis(w, axis, -1)), -1, axis)
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(q),
                                                              node.input[1]))
    return out


def with_outputs(model: Any, names: list[str]) -> Any:
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for n in names:
        out.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT,
                                                                   None))
    return out


def bias_corrected(fp32: Any, quant: Any, calib: np.ndarray, threads: int) -> Any:
    """Layer by layer, the quantized model's mean conv-output shift taken out of its bias."""
    from onnx import numpy_helper

    convs = [n for n in quant.graph.node if n.op_type == "Conv"]
    outs = [n.output[0] for n in convs]
    ref = predict(with_outputs(fp32, outs), calib, threads, outs)
    ref_means = [r.mean(axis=(0, 2, 3)) for r in ref]
    del ref
    inits = {t.name: t for t in quant.graph.initializer}
    for k, conv in enumerate(convs):
        got = predict(with_outputs(quant, [outs[k]]), calib, threads, [outs[k]])[0]
        shift = got.mean(axis=(0, 2, 3)) - ref_means[k]
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float32)
        inits[conv.input[2]].CopyFrom(numpy_helper.from_array(b - shift, conv.input[2]))
        print(f"  bias {short(conv.name)}: mean |shift| {np.abs(shift).mean():.2e} "
              f"(bias mean |b| {np.abs(b).mean():.2e})", flush=True)
    return quant


def main() -> None:
    import onnx
    from quant_sweep import BLOCK5_UP, quant_args  # benchmarks/, the script's own folder

    from fingerspell_export.exporter import quantize_onnx_int8, sample_images, with_range_frames

    ap = quant_args(__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--margin", type=float, default=0.3,
                    help="per-layer runs score only photos whose fp32 top-2 margin is below this "
                         "(others cannot flip under perturbations this small: checked by the "
                         "all-layer runs, which score every photo)")
    ap.add_argument("--artifact", type=Path, action="append", default=[],
                    help="also score this ONNX artifact (e.g. the shipped int8) on every photo")
    ap.add_argument("--no-layers", action="store_true", help="skip the per-layer split")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    fp32 = onnx.load(str(args.fp32))
    nodes = [n.name for n in fp32.graph.node if n.op_type in WEIGHT_OPS]
    pixels, labels = sample_images([args.eval], 100000, 150, 0)
    t0 = time.perf_counter()
    ref = predict(fp32, pixels, args.threads)[0]
    top = np.sort(ref, axis=1)
    margin = top[:, -1] - top[:, -2]
    near = margin < args.margin
    for t in (0.002, 0.005, 0.01, 0.02, 0.05, 0.1):
        print(f"fp32 margin < {t}: {(margin < t).sum()} photos", flush=True)
    print(f"{len(pixels)} eval photos, fp32 {time.perf_counter() - t0:.0f} s, accuracy "
          f"{(ref.argmax(1) == labels).mean():.4f}; {near.mean():.1%} with margin < "
          f"{args.margin}", flush=True)
    rows: list[dict[str, Any]] = []

    def score(name: str, model: Any, subset: np.ndarray, against: np.ndarray | None = None,
              ) -> np.ndarray:
        base = ref if against is None else against
        out = predict(model, pixels[subset], args.threads)[0]
        moved = out.argmax(1) != base[subset].argmax(1)
        flips = int(moved.sum())
        rows.append({"variant": name, "scored": int(subset.sum()), "flips": flips,
                     "agree_all": 1 - flips / len(pixels),
                     "mean_max_dp": float(np.abs(out - base[subset]).max(1).mean()),
                     "accuracy_scored": float((out.argmax(1) == labels[subset]).mean()),
                     "fp32_margins_of_moved": sorted(round(float(m), 4)
                                                     for m in margin[subset][moved])})
        print(f"{name:28s} flips {flips:3d} of {subset.sum()} scored -> agreement "
              f"{rows[-1]['agree_all']:.4f}; mean max|dp| {rows[-1]['mean_max_dp']:.4f}; "
              f"fp32 margins of the moved {rows[-1]['fp32_margins_of_moved']}", flush=True)
        return out

    everything = np.ones(len(pixels), bool)
    if not args.no_layers:
        for n in nodes:
            score(f"int8 weights: {short(n)}", fake_quant(fp32, {n}), near)
    snapped = fake_quant(fp32, set(nodes))
    snapped_out = score("int8 weights: all", snapped, everything)
    score("all, mse clip", fake_quant(fp32, set(nodes), mse_snap), everything)
    for path in args.artifact:
        score(path.name, onnx.load(str(path)), everything)
    score("all in fp16 instead", fake_quant(fp32, set(nodes), fp16_round), everything)
    calib, _ = sample_images(args.calib, args.calib_images, 150, 0)
    # the shipped recipe on a model whose weights already sit on the int8 grid
    # (fingerspell_train.snap): it re-rounds no weight, so what moves is activation rounding
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(snapped, f"{tmp}/snapped.onnx")
        quantize_onnx_int8(Path(tmp) / "snapped.onnx", Path(tmp) / "int8.onnx",
                           with_range_frames(calib), tuple(BLOCK5_UP))
        score("shipped recipe on snapped, vs snapped", onnx.load(f"{tmp}/int8.onnx"), everything,
              snapped_out)
    score("all, bias corrected", bias_corrected(fp32, fake_quant(fp32, set(nodes)), calib,
                                                args.threads), everything)
    if args.json:
        args.json.write_text(json.dumps({"eval": str(args.eval), "photos": len(pixels),
                                         "margin": args.margin, "near": int(near.sum()),
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
