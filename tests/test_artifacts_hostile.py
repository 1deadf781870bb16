"""Hostile artifacts and hostile images through a real exported model.

An artifact whose metadata disagrees with its own tensors, or whose bytes are another format than
its extension says, is refused at load with a one-line ModelError naming the file; the hostile
image corpus goes through `predict_many` with every valid image predicted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hostile_files import CORPUS, OK, encode, noise, write_corpus

from fingerspell.artifact import METADATA_KEY, write_sidecar
from fingerspell.errors import ModelError
from fingerspell.recognizer import Recognizer
from fingerspell.results import Failure, Prediction
from fingerspell.schema import SCHEMA_VERSION, ModelMetadata


def _refused(path: Path, match: str) -> ModelError:
    with pytest.raises(ModelError, match=match) as err:
        Recognizer(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return err.value


def _onnx_metadata(path: Path) -> ModelMetadata:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return ModelMetadata.from_json(props[METADATA_KEY])


def _resized_input(doc: dict, side: int) -> dict:
    doc["input"]["height"] = doc["input"]["width"] = side
    return doc


def _bundled_doc() -> dict:
    from fingerspell.artifact import bundled_dir

    return json.loads((bundled_dir() / "fingerspell-vgg16-int8.json").read_text())


@pytest.mark.parametrize("what", ["metadata", "graph"])
def test_onnx_input_size_disagreeing_with_the_graph_is_refused(exported: Path, tmp_path: Path,
                                                               what: str) -> None:
    """Metadata says 48x48 while the graph takes 32x32 (or the graph's input is made 48x48)."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(exported / "tiny-int8.onnx"))
    if what == "metadata":
        entry = next(p for p in model.metadata_props if p.key == METADATA_KEY)
        entry.value = json.dumps(_resized_input(json.loads(entry.value), 48))
    else:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[1].dim_value = dims[2].dim_value = 48
    bad = tmp_path / f"{what}.onnx"
    onnx.save(model, str(bad))
    # The graph edit may already fail onnxruntime's shape checks; either way it is refused at load.
    match = "does not match the metadata's 48x48x3" if what == "metadata" else \
        r"does not match the metadata's 32x32x3|not a loadable ONNX model"
    _refused(bad, match)


def test_tflite_sidecar_input_size_disagreeing_is_refused(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tiny-int8.tflite"
    shutil.copy(exported / "tiny-int8.tflite", bad)
    doc = _resized_input(json.loads((exported / "tiny-int8.json").read_text()), 48)
    (tmp_path / "tiny-int8.json").write_text(json.dumps(doc))  # sha256 still names this file
    _refused(bad, r"input shape \[1, 32, 32, 3\] does not match the metadata's 48x48x3")


@pytest.mark.parametrize(("edit", "said"), [
    (lambda doc: json.dumps(doc)[:-9], "metadata is not valid JSON: "),  # cut short
    (lambda doc: json.dumps([doc]), "metadata is not a JSON object"),
    (lambda doc: json.dumps({k: v for k, v in doc.items() if k != "labels"}), "malformed metadata: 'labels'"),
    (lambda doc: json.dumps({**doc, "schema": "keras.model"}),
     "not a fingerspell metadata document (schema='keras.model')"),
    (lambda doc: json.dumps({**doc, "schema_version": SCHEMA_VERSION + 1}),
     f"metadata schema_version {SCHEMA_VERSION + 1} is newer than this fingerspell understands "
     f"({SCHEMA_VERSION}); upgrade fingerspell"),
    (lambda doc: json.dumps({**doc, "schema_version": str(SCHEMA_VERSION)}),  # not a number
     f"malformed metadata: schema_version must be a whole number of at least 1, not "
     f"'{SCHEMA_VERSION}'"),
    (lambda doc: json.dumps({**doc, "schema_version": True}), "not True"),
    (lambda doc: json.dumps({**doc, "schema_version": 0}), "at least 1, not 0"),
])
def test_a_sidecar_of_another_kind_or_a_newer_schema_is_refused(tmp_path: Path, edit, said: str) -> None:
    doc = _bundled_doc()
    model = tmp_path / "m.tflite"
    model.write_bytes(b"refused before its bytes are looked at")
    (tmp_path / "m.json").write_text(edit(doc))
    with pytest.raises(ModelError) as err:
        Recognizer(model)
    assert str(err.value).startswith(f"{tmp_path / 'm.json'}: ") and said in str(err.value), err.value


@pytest.mark.parametrize(("field", "value", "said"), [
    ("labels", [], "labels must be a non-empty list of unique names"),
    ("labels", ["A", "B", "A"], "labels must be a non-empty list of unique names"),
    ("height", 7, "unsupported input shape 7x150x3"),
    ("width", 7, "unsupported input shape 150x7x3"),
    ("channels", 4, "unsupported input shape 150x150x4"),
    ("color_order", "BGR", "unsupported input BGR/NHWC"),
    ("layout", "NCHW", "unsupported input RGB/NCHW"),
    ("dtype", "int8", "unsupported input dtype 'int8'"),
    ("crop", "face", "unsupported crop 'face'; this fingerspell knows none, hand"),
    ("resize_method", "nearest", "unsupported resize nearest/stretch"),
    ("resize_fit", "pad", "unsupported resize bilinear/pad"),
])
def test_metadata_a_runtime_cannot_honour_is_refused(field: str, value: object, said: str) -> None:
    from fingerspell.schema import MetadataError

    doc = _bundled_doc()
    (doc if field == "labels" else doc["input"])[field] = value
    with pytest.raises(MetadataError) as err:
        ModelMetadata.from_dict(doc)
    assert str(err.value) == said


@pytest.mark.parametrize(("field", "value"), [("height", 8), ("width", 8), ("dtype", "float32"),
                                              ("crop", "none"), ("labels", ["A"])])
def test_metadata_at_the_edges_of_what_a_runtime_honours_is_read(field: str, value: object) -> None:
    doc = _bundled_doc()
    (doc if field == "labels" else doc["input"])[field] = value
    meta = ModelMetadata.from_dict(doc)
    assert (meta.labels if field == "labels" else getattr(meta.input, field)) == value


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_fifo_named_as_the_model_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    from fingerspell.artifact import check_readable

    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    # a writer held open, so that a check which opens it anyway returns instead of waiting forever
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        with pytest.raises(ModelError, match=r"model.onnx: not a regular file, so no model file$"):
            check_readable(fifo)
    finally:
        os.close(fd)


@pytest.mark.parametrize(("backend", "name"), [(None, "fingerspell-vgg16-int8.onnx"),
                                               ("litert", "fingerspell-vgg16-int8.tflite")])
def test_a_bundled_model_missing_from_the_install_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str | None, name: str) -> None:
    from fingerspell import artifact

    monkeypatch.setattr(artifact, "bundled_dir", lambda: tmp_path)  # an install that lost its model
    with pytest.raises(ModelError) as err:
        artifact.default_model_path(backend)
    assert str(err.value) == (f"the bundled model {name} is missing from {tmp_path}; "
                              "reinstall fingerspell or pass --model")


def test_a_sidecar_of_another_file_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not the file the sidecar was written for")
    (tmp_path / "m.json").write_text(json.dumps(_bundled_doc()))  # the bundled .tflite's sha256
    with pytest.raises(ModelError) as err:
        Recognizer(model)
    assert str(err.value) == (f"{model}: does not match its metadata m.json (sha256 differs): the file "
                              "was changed or the sidecar belongs to another model")


def test_a_model_whose_input_dtype_or_outputs_are_not_its_metadata_s_is_refused(tmp_path: Path) -> None:
    from fingerspell.artifact import check_against_io

    meta = ModelMetadata.from_dict(_bundled_doc())  # uint8, 150x150x3, 29 labels
    model = tmp_path / "m.onnx"
    with pytest.raises(ModelError, match=r"the model's input is float32 but its metadata says uint8$"):
        check_against_io(model, meta, [1, 150, 150, 3], [1, 29], in_dtype="float32")
    with pytest.raises(ModelError, match=r"the model has 28 outputs but its metadata lists 29 labels$"):
        check_against_io(model, meta, [1, 150, 150, 3], [1, 28], in_dtype="uint8")
    check_against_io(model, meta, [1, 150, 150, 3], [1, 29], in_dtype="uint8")  # agreeing: no error


def test_files_under_the_wrong_extension_are_refused(exported: Path, tmp_path: Path) -> None:
    onnx_as_tflite = tmp_path / "onnx-bytes.tflite"
    shutil.copy(exported / "tiny-int8.onnx", onnx_as_tflite)
    _refused(onnx_as_tflite, "sidecar .* is missing")
    write_sidecar(onnx_as_tflite, _onnx_metadata(exported / "tiny-int8.onnx"))  # a matching sha256
    _refused(onnx_as_tflite, "not a loadable TFLite model")

    tflite_as_onnx = tmp_path / "tflite-bytes.onnx"
    shutil.copy(exported / "tiny-int8.tflite", tflite_as_onnx)
    _refused(tflite_as_onnx, "not a loadable ONNX model")

    jpeg_as_onnx = tmp_path / "photo.onnx"
    jpeg_as_onnx.write_bytes(encode(noise(16, 16), "JPEG"))
    _refused(jpeg_as_onnx, "not a loadable ONNX model")


@pytest.mark.parametrize("name", ["tiny-int8.onnx", "tiny-int8.tflite"])
def test_hostile_corpus_through_predict_many(exported: Path, tmp_path: Path, name: str) -> None:
    """Every valid image of the corpus is predicted; every other one is a Failure, in order."""
    rec = Recognizer(exported / name)
    corpus = write_corpus(tmp_path / "corpus")
    results = list(rec.predict_many(list(corpus)))
    assert [r.source for r in results] == [str(p) for p in corpus]
    for (path, expect), result in zip(corpus.items(), results, strict=True):
        if expect == OK:
            assert isinstance(result, Prediction) and result.label in rec.labels, path
        else:
            assert isinstance(result, Failure) and result.kind == "InputError", path
            assert result.error.startswith(f"{path}: ") and "\n" not in result.error
    assert sum(expect == OK for expect in corpus.values()) == \
        sum(isinstance(r, Prediction) for r in results) > len(CORPUS) // 3
