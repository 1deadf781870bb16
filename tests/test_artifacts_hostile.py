"""Hostile artifacts and hostile images through a real exported model.

An artifact whose metadata disagrees with its own tensors, or whose bytes are another format than
its extension says, is refused at load with a one-line ModelError naming the file; the hostile
image corpus goes through `predict_many` with every valid image predicted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hostile_files import CORPUS, OK, encode, noise, write_corpus

from fingerspell.artifact import METADATA_KEY, write_sidecar
from fingerspell.errors import ModelError
from fingerspell.recognizer import Recognizer
from fingerspell.results import Failure, Prediction
from fingerspell.schema import ModelMetadata


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
