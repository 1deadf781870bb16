"""Export: every format agrees with Keras through the runtime's loaders; broken artifacts are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="needs the train extra")

from fingerspell.artifact import METADATA_KEY
from fingerspell.errors import ModelError
from fingerspell.recognizer import Recognizer
from fingerspell.schema import ModelMetadata

ARTIFACTS = ["tiny-fp32.onnx", "tiny-int8.onnx", "tiny-int8.tflite", "tiny-int8-full.tflite",
             "tiny-int8-dynamic.tflite",
             "tiny-int8-weights.tflite", "tiny-fp16.tflite"]


def test_every_format_is_written_and_passes_parity(exported: Path) -> None:
    for name in ARTIFACTS:
        assert (exported / name).is_file(), name
    report = json.loads((exported / "parity.json").read_text())
    rows = {r["artifact"]: r for r in report["artifacts"]}
    assert set(rows) == set(ARTIFACTS)
    assert all(r["ok"] for r in rows.values())
    assert rows["tiny-fp32.onnx"]["top1_agreement"] == 1.0
    assert rows["tiny-fp32.onnx"]["max_abs_diff"] <= 1e-4
    assert all(r["top1_agreement"] >= 0.99 for r in rows.values())
    assert "top-1 agree" in (exported / "parity.txt").read_text()


def test_runtime_matches_keras_top1(exported: Path, tiny_run: Path, tiny_dataset: Path) -> None:
    import keras

    from fingerspell.imaging import load_array

    files = sorted(tiny_dataset.glob("*/*.jpg"))[::5]
    x = np.stack([load_array(f, (32, 32)) for f in files])
    want = np.asarray(keras.models.load_model(tiny_run / "model.keras").predict_on_batch(
        x.astype(np.float32))).argmax(1)
    for name in ARTIFACTS:
        rec = Recognizer(exported / name)
        got = np.array([rec.labels.index(p.label) for p in rec.predict_many(files)])
        assert (got == want).mean() >= 0.97, name


def test_metadata_round_trips(exported: Path, tiny_run: Path) -> None:
    import onnx

    trained = ModelMetadata.from_json((tiny_run / "metadata.json").read_text())
    props = {p.key: p.value for p in onnx.load(str(exported / "tiny-int8.onnx")).metadata_props}
    onnx_meta = ModelMetadata.from_json(props[METADATA_KEY])
    tfl_meta = Recognizer(exported / "tiny-int8.tflite").metadata
    for meta in (onnx_meta, tfl_meta):
        assert meta.labels == trained.labels and meta.name == trained.name
        assert (meta.input.height, meta.input.width) == (32, 32) and meta.input.dtype == "uint8"
        assert meta.training["command"] == trained.training["command"]
        assert meta.artifact["format"] in ("onnx", "tflite") and meta.artifact["keras_sha256"]
    # which layers compute in float, for the benchmarks' floor: the static TFLite keeps dense ones
    assert onnx_meta.artifact["float_layers"] == []
    assert tfl_meta.artifact["float_layers"] == ["predictions"]  # the tiny CNN's Dense


def _sabotage_onnx(src: Path, dst: Path, edit) -> Path:
    import onnx

    model = onnx.load(str(src))
    edit(model)
    onnx.save(model, str(dst))
    return dst


def test_onnx_without_metadata_is_refused(exported: Path, tmp_path: Path) -> None:
    bad = _sabotage_onnx(exported / "tiny-int8.onnx", tmp_path / "bare.onnx",
                         lambda m: m.metadata_props.__delitem__(slice(None)))
    with pytest.raises(ModelError, match="no fingerspell metadata"):
        Recognizer(bad)


def test_wrong_label_count_is_refused(exported: Path, tmp_path: Path) -> None:
    def drop_label(m) -> None:
        entry = next(p for p in m.metadata_props if p.key == METADATA_KEY)
        doc = json.loads(entry.value)
        doc["labels"] = doc["labels"][:-1]
        entry.value = json.dumps(doc)

    bad = _sabotage_onnx(exported / "tiny-int8.onnx", tmp_path / "labels.onnx", drop_label)
    with pytest.raises(ModelError, match="29 outputs but its metadata lists 28 labels"):
        Recognizer(bad)


def test_malformed_metadata_is_refused(exported: Path, tmp_path: Path) -> None:
    def garble(m) -> None:
        next(p for p in m.metadata_props if p.key == METADATA_KEY).value = "{not json"

    bad = _sabotage_onnx(exported / "tiny-int8.onnx", tmp_path / "garbled.onnx", garble)
    with pytest.raises(ModelError, match="not valid JSON"):
        Recognizer(bad)


def test_truncated_and_misnamed_artifacts_are_refused(exported: Path, tmp_path: Path) -> None:
    for name in ("tiny-int8.onnx", "tiny-int8.tflite"):
        data = (exported / name).read_bytes()
        bad = tmp_path / name
        bad.write_bytes(data[: len(data) // 2])
        if name.endswith(".tflite"):
            shutil.copy(exported / "tiny-int8.json", tmp_path / "tiny-int8.json")
        with pytest.raises(ModelError):
            Recognizer(bad)
    other = tmp_path / "model.pt"
    other.write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model format"):
        Recognizer(other)


def test_tflite_sidecar_must_match_its_file(exported: Path, tmp_path: Path) -> None:
    shutil.copy(exported / "tiny-fp16.tflite", tmp_path / "tiny-int8.tflite")
    shutil.copy(exported / "tiny-int8.json", tmp_path / "tiny-int8.json")
    with pytest.raises(ModelError, match="sha256 differs"):
        Recognizer(tmp_path / "tiny-int8.tflite")
    (tmp_path / "tiny-int8.json").unlink()
    with pytest.raises(ModelError, match="sidecar"):
        Recognizer(tmp_path / "tiny-int8.tflite")


def test_every_artifact_takes_uint8_pixels_as_its_metadata_says(exported: Path, tmp_path: Path) -> None:
    from fingerspell.artifact import sidecar_path, write_sidecar

    for name in ARTIFACTS:
        rec = Recognizer(exported / name)  # loading checks the input tensor's dtype against metadata
        assert rec.metadata.input.dtype == "uint8", name
    # an artifact whose tensor disagrees with its metadata is refused, not silently cast
    shutil.copy(exported / "tiny-fp16.tflite", tmp_path / "t.tflite")
    meta = Recognizer(exported / "tiny-fp16.tflite").metadata
    meta.input.dtype = "float32"
    write_sidecar(tmp_path / "t.tflite", meta)
    assert sidecar_path(tmp_path / "t.tflite").is_file()
    with pytest.raises(ModelError, match="input is uint8 but its metadata says float32"):
        Recognizer(tmp_path / "t.tflite")


def test_export_fails_loudly_on_a_degenerate_model(tiny_run: Path, tiny_dataset: Path,
                                                  tmp_path: Path) -> None:
    """A model whose outputs are uniform must not pass the export."""
    import keras

    from fingerspell_export.exporter import ExportError, ExportOptions, export

    model = keras.models.load_model(tiny_run / "model.keras")
    dense = model.get_layer("predictions")
    w, b = dense.get_weights()
    dense.set_weights([np.zeros_like(w), np.zeros_like(b)])
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    shutil.copy(tiny_run / "metadata.json", run / "metadata.json")
    with pytest.raises(ExportError, match="near-uniform"):
        export(run / "model.keras", ExportOptions(out_dir=tmp_path / "out", calib_dirs=[tiny_dataset],
                                                  parity_dirs=[tiny_dataset], formats=("onnx-fp32",),
                                                  calib_images=20, parity_images=30))


def test_float_layers_compute_in_float_from_int8_weights(tiny_run: Path, tiny_dataset: Path,
                                                         tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    from fingerspell_export.exporter import ExportOptions, export

    export(tiny_run / "model.keras", ExportOptions(
        out_dir=tmp_path, calib_dirs=[tiny_dataset], parity_dirs=[tiny_dataset],
        formats=("onnx-int8",), calib_images=60, parity_images=40, stem="f", float_layers=("conv1",),
        allow_low_agreement=True))  # this test is about the graph, not the agreement
    graph = onnx.load(str(tmp_path / "f-int8.onnx")).graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    conv1 = next(n for n in graph.node if n.op_type == "Conv" and "/conv1" in n.name)
    # conv1's input activation is not quantized: it comes straight from a float op
    assert producer[conv1.input[0]].op_type != "DequantizeLinear"
    # ... but its kernel is stored as int8 behind a per-channel DequantizeLinear
    dq = producer[conv1.input[1]]
    assert dq.op_type == "DequantizeLinear" and inits[dq.input[0]].data_type == onnx.TensorProto.INT8
    scale = numpy_helper.to_array(inits[dq.input[1]])
    assert scale.shape == (32,) and (scale > 0).all()
    conv2 = next(n for n in graph.node if n.op_type == "Conv" and "/conv2" in n.name)
    assert producer[conv2.input[0]].op_type == "DequantizeLinear"  # the rest stays fully int8
    assert conv2.input[1] not in inits or inits[conv2.input[1]].data_type != onnx.TensorProto.FLOAT


def test_weight_only_int8_is_close_to_float() -> None:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from fingerspell_export.weightonly import quantize_weights

    rng = np.random.default_rng(0)
    w = (rng.normal(0, 1, (8, 3, 3, 3)) * rng.uniform(0.01, 10, (8, 1, 1, 1))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert quantize_weights(model, {"conv"}) == 1
    onnx.checker.check_model(model)
    got = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    # per-channel scales: every channel keeps ~1 % error whatever its magnitude
    err = np.abs(got - want).max(axis=(0, 2, 3)) / np.abs(want).max(axis=(0, 2, 3))
    assert (err < 0.02).all(), err


def test_float_from_names_a_layer_and_all_after_it_nested_models_flattened() -> None:
    keras = pytest.importorskip("keras", reason="needs the train extra")
    from fingerspell_export.exporter import ExportError, layers_from

    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, keras.layers.Conv2D(4, 3, name="b1")(
        keras.layers.Conv2D(4, 3, name="b0")(inner_in)), name="trunk")
    x = keras.Input((8, 8, 3))
    out = keras.layers.Dense(2, name="head")(keras.layers.Flatten(name="flat")(inner(x)))
    model = keras.Model(x, out)
    assert layers_from(model, "b1") == ("b1", "flat", "head")
    assert layers_from(model, None) == ()
    with pytest.raises(ExportError, match="no layer named 'nope'"):
        layers_from(model, "nope")


def test_flip_tta_is_inside_every_artifact(tiny_run: Path, tiny_dataset: Path, exported: Path,
                                           tmp_path: Path) -> None:
    """--tta flip: each artifact returns the mean over the image and its mirror, weights once."""
    import keras

    from fingerspell.imaging import load_array
    from fingerspell_export.exporter import ExportOptions, export

    export(tiny_run / "model.keras", ExportOptions(
        out_dir=tmp_path, calib_dirs=[tiny_dataset], parity_dirs=[tiny_dataset],
        formats=("onnx-fp32", "onnx-int8", "tflite-int8-weights"), calib_images=60,
        parity_images=60, stem="t", tta="flip", allow_low_agreement=True))  # checked below
    files = sorted(tiny_dataset.glob("*/*.jpg"))[::7]
    x = np.stack([load_array(f, (32, 32)) for f in files]).astype(np.float32)
    model = keras.models.load_model(tiny_run / "model.keras")
    want = (np.asarray(model.predict_on_batch(x)) +
            np.asarray(model.predict_on_batch(x[:, :, ::-1]))) / 2
    plain = np.asarray(model.predict_on_batch(x))
    assert np.abs(want - plain).max() > 1e-3  # the mirror changes this model's answers
    fp32 = Recognizer(tmp_path / "t-fp32.onnx")
    assert np.abs(fp32.probabilities(x.astype(np.uint8)) - want).max() < 1e-4
    for name in ("t-int8.onnx", "t-int8-weights.tflite"):
        rec = Recognizer(tmp_path / name)
        got = np.concatenate([rec.probabilities(x[i:i + 1].astype(np.uint8)) for i in range(len(x))])
        assert (got.argmax(1) == want.argmax(1)).mean() >= 0.95, name
        assert rec.metadata.artifact["tta"].startswith("flip"), name
    # the network is stored once: no bigger than the artifact without the mirror
    assert (tmp_path / "t-fp32.onnx").stat().st_size < 1.05 * (exported / "tiny-fp32.onnx").stat().st_size


def test_static_tflite_takes_the_int8_onnx_activation_ranges(tiny_run: Path, tiny_dataset: Path,
                                                             tmp_path: Path) -> None:
    """Same integers at every quantized tensor, so the shipped pair reads near-ties alike. (The
    static TFLite keeps dense layers float, so the ONNX gets a float head here, as shipped.)"""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    from fingerspell_export.exporter import ExportOptions, export, sample_images
    from fingerspell_export.tflite_static import onnx_activation_ranges, tensor_key

    export(tiny_run / "model.keras", ExportOptions(
        out_dir=tmp_path, calib_dirs=[tiny_dataset], parity_dirs=[tiny_dataset],
        formats=("onnx-int8", "tflite-int8"), calib_images=60, parity_images=40, stem="p",
        float_layers=("flatten", "predictions"), allow_low_agreement=True))  # the pair, not Keras
    ranges = onnx_activation_ranges(tmp_path / "p-int8.onnx")
    it = Interpreter(model_path=str(tmp_path / "p-int8.tflite"))
    matched = 0
    for d in it.get_tensor_details():
        qp = d["quantization_parameters"]
        hit = ranges.get(tensor_key(d["name"]))
        if d["dtype"] != np.int8 or len(qp["scales"]) != 1 or hit is None:
            continue
        lo, hi = hit
        assert qp["scales"][0] == pytest.approx((hi - lo) / 255, rel=1e-5), d["name"]
        assert qp["zero_points"][0] == round(-128 - lo / qp["scales"][0]), d["name"]
        matched += 1
    assert matched >= 5  # the input, the convolutions, the pools

    x, _ = sample_images([tiny_dataset], 40, 32, 3)
    sess = ort.InferenceSession(str(tmp_path / "p-int8.onnx"), providers=["CPUExecutionProvider"])
    it.allocate_tensors()
    worst = 0.0
    for i in range(len(x)):
        it.set_tensor(it.get_input_details()[0]["index"], x[i:i + 1])
        it.invoke()
        p_tfl = it.get_tensor(it.get_output_details()[0]["index"])
        p_onnx = sess.run(None, {"pixels": x[i:i + 1]})[0]
        worst = max(worst, float(np.abs(p_tfl - p_onnx).max()))
    print("max |dp| int8 ONNX vs static TFLite:", worst)
    assert worst < 0.01  # 0.066 with separate calibrations (measured)


def test_unreadable_calibration_images_are_named_not_silently_dropped(tmp_path: Path) -> None:
    from fingerspell_export.exporter import sample_images
    from synth import make_dataset

    data = make_dataset(tmp_path / "d", per_class=4)
    broken = data / "A" / "alice_A0.jpg"
    broken.write_bytes(b"not a jpeg")
    skipped: list[Path] = []
    x, labels = sample_images([data], 1000, 32, 0, skipped)
    assert skipped == [broken]
    assert len(x) == len(labels) == sum(1 for _ in data.glob("*/*.jpg")) - 1
