"""`fingerspell export`: a trained .keras model -> ONNX and TFLite artifacts, metadata inside,
parity with Keras proven on real images before anything is called done.

One method per format; each writes its file, attaches the metadata, and is checked against Keras
with the runtime's own loaders (onnxruntime, ai-edge-litert), so what is tested is what ships.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.artifact import METADATA_KEY, sha256_file, write_sidecar
from fingerspell.backends import open_backend
from fingerspell.errors import DatasetError
from fingerspell.schema import CLASSES, ModelMetadata
from fingerspell_export.parity import Parity, compare, write_report
from fingerspell_export.tta import TTA_MODES, mirror_averaged
from fingerspell_export.weightonly import quantize_weights

# Every format, with the bytes per weight its file should hold (a far smaller file means dropped
# weights). Each is written by the Exporter method of the same name (dashes as underscores).
FORMATS = {"onnx-fp32": 4, "onnx-int8": 1, "tflite-int8": 1, "tflite-int8-full": 1,
           "tflite-int8-dynamic": 1, "tflite-int8-weights": 1, "tflite-fp16": 2}
DEFAULT_FORMATS = ("onnx-fp32", "onnx-int8", "tflite-int8")
OPSET = 17
RANGE_FRAMES = (0, 255)  # black and white calibration frames added to the real images


def with_range_frames(calib: np.ndarray) -> np.ndarray:
    """Calibration photos [N, H, W, 3] behind one frame per RANGE_FRAMES value: black and white
    frames pin the input range to exactly 0..255 (uint8 in, scale 1)."""
    frames = np.stack([np.full(calib.shape[1:], v, np.uint8) for v in RANGE_FRAMES])
    return np.concatenate([frames, calib])
# Layers the static int8 TFLite keeps in float arithmetic (int8 weights) on top of the float
# layers of the int8 ONNX: with int8 activations in VGG16's first block, XNNPACK's int8 kernels
# moved 2.3 % of top-1 answers (97.7 % agreement with Keras on 300 photos; blocks 2-4 alone:
# 99.7 %, block 4 alone: 100 %; measured 2026-11-26 on run bg-v3e9). Absent layers are ignored.
TFLITE_FLOAT_LAYERS = ("block1_conv1", "block1_conv2", "block1_pool")
# With the int8 ONNX's ranges (tflite_static), block 1 in int8 is bit-exact with the ONNX, so
# TFLITE_FLOAT_LAYERS applies only to a TFLite calibrated on its own.
PREPROCESS_LAYER = "preprocess"  # fingerspell_train.backbone: mean subtraction or 1/255


class ExportError(RuntimeError):
    """An artifact failed its parity or sanity checks."""


@dataclass
class ExportOptions:
    out_dir: Path
    calib_dirs: list[Path]
    parity_dirs: list[Path]
    formats: tuple[str, ...] = DEFAULT_FORMATS
    calib_images: int = 200
    parity_images: int = 300
    allow_low_agreement: bool = False
    stem: str | None = None  # file name stem; default: the model's metadata name
    float_layers: tuple[str, ...] = ()  # Keras layer names kept in float in the int8 ONNX
    # ... and every layer from this one on; "auto": the first layer the run fine-tuned (its
    # activations do not survive 8 bits, measured), "none" or None: only float_layers
    float_from: str | None = None
    tta: str = "none"  # test-time augmentation inside the artifact (tta.TTA_MODES)
    seed: int = 0
    command: str = ""
    extra_metrics: dict[str, Any] = field(default_factory=dict)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sample_images(dirs: list[Path], n: int, size: int, seed: int,
                  skipped: list[Path] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Up to n readable images, spread over classes and sources; uint8 pixels and labels.

    Unreadable images are left out; their paths are appended to `skipped` when it is given.
    """
    from fingerspell_train.dataset import discover
    from fingerspell_train.features import load_pixels

    samples = [s for d in dirs for s in discover(d)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(samples))
    by_class: dict[int, list[int]] = {}
    for i in order:
        by_class.setdefault(samples[i].label, []).append(int(i))
    picked: list[int] = []
    while len(picked) < min(n, len(samples)):  # round-robin over classes
        for idxs in by_class.values():
            if idxs and len(picked) < n:
                picked.append(idxs.pop())
    pixels, labels = [], []
    for i in picked:
        px = load_pixels(samples[i].path, size)
        if px is not None:
            pixels.append(px)
            labels.append(samples[i].label)
        elif skipped is not None:
            skipped.append(samples[i].path)
    if not pixels:
        raise DatasetError(f"no readable image among {len(picked)} tried in "
                           f"{', '.join(map(str, dirs))}")
    return np.stack(pixels), np.array(labels)


def quantize_onnx_int8(src: Path, dst: Path, calib: np.ndarray, float_layers: tuple[str, ...] = (),
                       method: str = "MinMax", int8_weights: bool = True) -> None:
    """Static QDQ int8 of an fp32 ONNX model, per-channel weights, calibrated on `calib` pixels.

    Nodes of `float_layers` (Keras layer names) keep float arithmetic; with `int8_weights` their
    weights are still stored as int8 behind a DequantizeLinear.
    """
    import tempfile

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(range(len(calib)))

        def get_next(self) -> dict | None:
            i = next(self.it, None)
            return None if i is None else {"pixels": calib[i:i + 1]}

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # tf2onnx keeps Keras layer names in node names. The mean subtraction stays float: as a
        # QLinearAdd its constant is quantized too, which moved 6.5 % of conv1's inputs by one
        # step (measured); float, then one QuantizeLinear, is exact and what TFLite does.
        keep = [n.name for n in onnx.load(str(pre)).graph.node
                if any(f"/{layer}" in n.name for layer in (PREPROCESS_LAYER, *float_layers))]
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=keep,
                        calibrate_method=getattr(CalibrationMethod, method))
    if keep and int8_weights:
        quantized = onnx.load(str(dst))
        quantize_weights(quantized, set(keep))
        onnx.save(quantized, str(dst))


def flat_layers(model: Any) -> list[Any]:
    """Every layer, nested models flattened in order."""
    out = []
    for layer in model.layers:
        out += flat_layers(layer) if hasattr(layer, "layers") else [layer]
    return out


def layers_from(model: Any, first: str | None) -> tuple[str, ...]:
    """Names of `first` and every layer after it, nested models flattened in order."""
    if first is None:
        return ()
    names = [layer.name for layer in flat_layers(model)]
    if first not in names:
        raise ExportError(f"no layer named {first!r} in the model (float layers)")
    return tuple(names[names.index(first):])


class Exporter:
    def __init__(self, model_path: Path, meta: ModelMetadata, opts: ExportOptions) -> None:
        import keras

        self.model_path = model_path
        self.model = keras.models.load_model(model_path)
        if opts.tta not in TTA_MODES:
            raise ExportError(f"unknown test-time augmentation {opts.tta!r}; choose one of "
                              f"{', '.join(TTA_MODES)}")
        if opts.tta == "flip":
            self.model = mirror_averaged(self.model)
        self.meta = meta
        self.opts = opts
        self.size = meta.input.height
        shape = tuple(self.model.input_shape[1:])
        if shape != (self.size, meta.input.width, 3) or self.model.output_shape[-1] != len(meta.labels):
            raise ExportError(f"{model_path}: model shape {shape}->{self.model.output_shape} does not "
                              "match its metadata")
        names = {layer.name for layer in flat_layers(self.model)}
        unknown = [n for n in opts.float_layers if n not in names]
        if unknown:
            raise ExportError(f"no layer named {unknown[0]!r} in the model (--float-layer)")
        self.float_layers = tuple(dict.fromkeys(
            opts.float_layers + layers_from(self.model, self._float_from())))
        log(f"loading {opts.calib_images} calibration and {opts.parity_images} parity images")
        skipped: list[Path] = []
        self.calib, _ = sample_images(opts.calib_dirs, opts.calib_images, self.size, opts.seed,
                                      skipped)
        self.calib = with_range_frames(self.calib)
        self.parity_x, self.parity_y = sample_images(opts.parity_dirs, opts.parity_images, self.size,
                                                     opts.seed + 1, skipped)
        # what was read, not what was asked for: folders can be smaller, images unreadable
        note = ""
        if skipped:
            more = " …" if len(skipped) > 3 else ""
            note = f"; {len(skipped)} unreadable left out: {', '.join(map(str, skipped[:3]))}{more}"
        log(f"read {len(self.calib) - len(RANGE_FRAMES)} calibration and {len(self.parity_x)} "
            f"parity images{note}")
        opts.out_dir.mkdir(parents=True, exist_ok=True)  # only once there is something to export
        self.keras_probs = np.concatenate([
            np.asarray(self.model.predict_on_batch(self.parity_x[i:i + 32].astype(np.float32)))
            for i in range(0, len(self.parity_x), 32)])
        self.fp32_onnx: Path | None = None
        self.int8_onnx: Path | None = None  # its activation ranges calibrate the static TFLite
        self.stem = opts.stem or meta.name

    def _float_from(self) -> str | None:
        name = self.opts.float_from
        if name == "auto":
            return (self.meta.training.get("preset") or {}).get("trainable_from")
        return None if name in (None, "none") else name

    # -- metadata ------------------------------------------------------------------------------
    def _meta_for(self, fmt: str, quantization: str) -> ModelMetadata:
        meta = copy.deepcopy(self.meta)
        meta.input.dtype = "uint8"
        meta.artifact = {"format": fmt, "quantization": quantization,
                         "keras_sha256": sha256_file(self.model_path),
                         "exported": time.strftime("%Y-%m-%d"), "command": self.opts.command}
        if self.opts.tta != "none":
            meta.artifact["tta"] = f"{self.opts.tta}: {TTA_MODES[self.opts.tta]}"
        meta.metrics = {**meta.metrics, **self.opts.extra_metrics}
        return meta

    def _embed_onnx(self, path: Path, meta: ModelMetadata) -> None:
        import onnx

        model = onnx.load(str(path))
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, meta.to_json()
        model.producer_name = "fingerspell-export"
        onnx.save(model, str(path))

    # -- formats -------------------------------------------------------------------------------
    def _serving_fn(self, batch: int | None) -> Any:
        import tensorflow as tf

        model = self.model
        spec = tf.TensorSpec([batch, self.size, self.size, 3], tf.uint8, name="pixels")

        @tf.function(input_signature=[spec])
        def serve(pixels: Any) -> Any:
            return {"probabilities": model(tf.cast(pixels, tf.float32), training=False)}

        return serve

    def _uint8_model(self) -> Any:
        """The model behind a uint8 input of batch 1 (cast inside): the artifact's input contract."""
        import keras

        inp = keras.Input((self.size, self.size, 3), batch_size=1, dtype="uint8", name="pixels")
        return keras.Model(inp, self.model(keras.ops.cast(inp, "float32")))

    def onnx_fp32(self) -> Path:
        import tf2onnx

        path = self.opts.out_dir / f"{self.stem}-fp32.onnx"
        serve = self._serving_fn(None)
        tf2onnx.convert.from_function(serve, input_signature=serve.input_signature, opset=OPSET,
                                      output_path=str(path))
        self._embed_onnx(path, self._meta_for("onnx", "none (fp32)"))
        self.fp32_onnx = path
        return path

    def onnx_int8(self) -> Path:
        if self.fp32_onnx is None:
            self.onnx_fp32()
        assert self.fp32_onnx is not None
        path = self.opts.out_dir / f"{self.stem}-int8.onnx"
        quantize_onnx_int8(self.fp32_onnx, path, self.calib, self.float_layers)
        floats = (f", float activations (int8 weights) in {','.join(self.float_layers)}"
                  if self.float_layers else "")
        meta = self._meta_for("onnx", "int8 static QDQ, per-channel weights, MinMax "
                              f"calibration on {self._calib_desc()}{floats}")
        meta.artifact["float_layers"] = list(self.float_layers)  # benchmarks count their cost
        self._embed_onnx(path, meta)
        self.int8_onnx = path
        return path

    def _tflite(self, quantize: str) -> bytes:
        import tempfile

        import tensorflow as tf

        # Through a SavedModel: converting a concrete function directly leaves variable reads in.
        with tempfile.TemporaryDirectory() as tmp:
            # full-integer quantizes its own uint8 input; the others get the uint8 contract here
            model = self.model if quantize == "int8" else self._uint8_model()
            model.export(tmp, format="tf_saved_model", verbose=False)
            conv = tf.lite.TFLiteConverter.from_saved_model(tmp)
            if quantize == "int8":
                calib = self.calib.astype(np.float32)
                conv.optimizations = [tf.lite.Optimize.DEFAULT]
                conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                # uint8 pixels in: the calibration's black and white frames make the input
                # scale 1 and zero point 0, so raw pixels pass through unchanged
                conv.inference_input_type = tf.uint8
                conv.inference_output_type = tf.float32
            elif quantize == "dynamic":
                # int8 weights, float activations quantized on the fly per call: no calibration
                # range to get wrong, the same file size as full-integer
                conv.optimizations = [tf.lite.Optimize.DEFAULT]
            elif quantize == "fp16":
                conv.optimizations = [tf.lite.Optimize.DEFAULT]
                conv.target_spec.supported_types = [tf.float16]
            return conv.convert()

    def tflite_int8(self) -> Path:
        """Static int8 (AI Edge Quantizer): int8 activations and weights in the convolutions and
        pools, except the float layers, whose convolutions keep int8 weights and float arithmetic;
        the dense head stays float (the converter folds the head's BatchNorm into it, see
        tflite_int8_weights). The converter's full-integer mode is tflite-int8-full."""
        from fingerspell_export.tflite_static import onnx_activation_ranges, quantize_static

        path = self.opts.out_dir / f"{self.stem}-int8.tflite"
        layers = flat_layers(self.model)
        present = {layer.name for layer in layers}
        shared = self.int8_onnx is not None  # onnx-int8 came first in this export's formats
        own = () if shared else TFLITE_FLOAT_LAYERS
        floats = tuple(n for n in dict.fromkeys(own + self.float_layers) if n in present)
        # The uint8 pixels cast to float (_uint8_model's cast, where the converter folds the
        # preprocessing into conv1) span exactly 0..255: scale 1, raw pixels pass unchanged.
        # AI Edge Quantizer's calibration averages per-image ranges and gave 0..213.
        ranges = {"Cast": (0.0, 255.0)}
        if shared:
            ranges.update(onnx_activation_ranges(self.int8_onnx))
        path.write_bytes(quantize_static(self._tflite("none"), self.calib, floats, ranges))
        calibration = (f"the activation ranges of {self.int8_onnx.name}, MinMax on "
                       if shared else "MinMax calibration on ")
        meta = self._meta_for("tflite", f"int8 static (AI Edge Quantizer, {calibration}"
                              f"{self._calib_desc()}): int8 activations and per-channel "
                              "weights in the convolutions and pools, "
                              + (f"float arithmetic with int8 weights in {','.join(floats)}, "
                                 if floats else "") + "float dense layer, uint8 pixel input")
        dense = [la.name for la in layers if type(la).__name__ == "Dense"]
        meta.artifact["float_layers"] = list(dict.fromkeys([*floats, *dense]))
        write_sidecar(path, meta)
        return path

    def _calib_desc(self) -> str:
        return f"{len(self.calib) - len(RANGE_FRAMES)} real images and a black and a white frame"

    def tflite_int8_full(self) -> Path:
        path = self.opts.out_dir / f"{self.stem}-int8-full.tflite"
        path.write_bytes(self._tflite("int8"))
        write_sidecar(path, self._meta_for("tflite", "int8 full-integer (TFLite converter), "
                                           "uint8 pixel input, calibrated on "
                                           f"{self._calib_desc()}"))
        return path

    def tflite_int8_dynamic(self) -> Path:
        path = self.opts.out_dir / f"{self.stem}-int8-dynamic.tflite"
        path.write_bytes(self._tflite("dynamic"))
        write_sidecar(path, self._meta_for("tflite", "int8 weights (per-channel), float "
                                           "activations quantized per call (dynamic range), "
                                           "uint8 pixel input"))
        return path

    def tflite_int8_weights(self) -> Path:
        # AI Edge Quantizer: int8 conv weights dequantized in the graph, float arithmetic; the
        # TFLite converter has no such mode (its "dynamic" one quantizes activations too). The
        # dense layer stays float: the converter folds the head's BatchNorm into it, and per
        # output channel int8 then wrecks it (58 % agreement with it, 100 % without; measured)
        from ai_edge_quantizer import quantizer, recipe_manager
        from ai_edge_quantizer.qtyping import TFLOperationName

        path = self.opts.out_dir / f"{self.stem}-int8-weights.tflite"
        rm = recipe_manager.RecipeManager()
        rm.add_weight_only_config(regex=".*", operation_name=TFLOperationName.CONV_2D, num_bits=8)
        q = quantizer.Quantizer(bytearray(self._tflite("none")), rm.get_quantization_recipe())
        path.write_bytes(bytes(q.quantize(enable_progress_report=False).quantized_model))
        write_sidecar(path, self._meta_for("tflite", "int8 conv weights (per-channel, AI Edge "
                                           "Quantizer weight-only), float dense layer and "
                                           "activations, uint8 pixel input"))
        return path

    def tflite_fp16(self) -> Path:
        path = self.opts.out_dir / f"{self.stem}-fp16.tflite"
        path.write_bytes(self._tflite("fp16"))
        write_sidecar(path, self._meta_for("tflite", "fp16 weights"))
        return path

    # -- orchestration -------------------------------------------------------------------------
    def check(self, path: Path, fmt: str) -> Parity:
        backend = open_backend(path)  # the runtime's loader: refuses what users would be refused
        probs = np.concatenate([backend.run(self.parity_x[i:i + 16])
                                for i in range(0, len(self.parity_x), 16)])
        min_size = int(self.model.count_params() * FORMATS[fmt] * 0.5)
        return compare(path.name, fmt, path.stat().st_size, self.keras_probs, probs, self.parity_y,
                       quantized=fmt != "onnx-fp32", min_size=min_size)

    def run(self) -> list[Parity]:
        rows = []
        for fmt in self.opts.formats:
            t = time.time()
            path = getattr(self, fmt.replace("-", "_"))()
            row = self.check(path, fmt)
            rows.append(row)
            log(f"{fmt}: {path.name} {row.size_bytes / 1e6:.1f} MB, top-1 agreement "
                f"{row.top1_agreement:.4f}, max|Δp| {row.max_abs_diff:.2e} "
                f"({time.time() - t:.0f}s){'' if row.ok else '  FAIL: ' + '; '.join(row.problems)}")
        keras_acc = float((self.keras_probs.argmax(1) == self.parity_y).mean())
        write_report(rows, self.opts.out_dir, {
            "keras_model": str(self.model_path), "keras_sha256": sha256_file(self.model_path),
            "parity_images": len(self.parity_x), "parity_dirs": [str(d) for d in self.opts.parity_dirs],
            "calibration_images": len(self.calib),
            "calibration_dirs": [str(d) for d in self.opts.calib_dirs],
            "keras_accuracy_on_parity_images": keras_acc, "date": time.strftime("%Y-%m-%d"),
        })
        failed = [r for r in rows if not r.ok and not (
            self.opts.allow_low_agreement and r.format != "onnx-fp32"
            and all(p.startswith("top-1 agreement") for p in r.problems))]
        if failed:
            raise ExportError("; ".join(f"{r.artifact}: {', '.join(r.problems)}" for r in failed))
        return rows


def load_run_metadata(model_path: Path) -> ModelMetadata:
    side = model_path.parent / "metadata.json"
    if side.is_file():
        return ModelMetadata.from_json(side.read_text())
    raise ExportError(f"{model_path}: no metadata.json beside it (train with `fingerspell train`)")


def export(model_path: Path, opts: ExportOptions) -> list[Parity]:
    from fingerspell_train.evaluate import model_file

    model_path = model_file(model_path)
    meta = load_run_metadata(model_path)
    if meta.labels != list(CLASSES):
        raise ExportError(f"{model_path}: labels differ from fingerspell's class order")
    rows = Exporter(model_path, meta, opts).run()
    (opts.out_dir / "export.json").write_text(json.dumps({"command": opts.command}, indent=1))
    return rows
