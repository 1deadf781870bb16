"""Score any saved Keras model on a labelled folder, from pixels (no cache involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.errors import DatasetError, ModelError
from fingerspell.imaging import one_line
from fingerspell.schema import CLASSES
from fingerspell_train.dataset import discover, person_of
from fingerspell_train.features import load_pixel_arrays
from fingerspell_train.fit import predict_batches
from fingerspell_train.report import classification_report, write_report


def model_file(path: Path) -> Path:
    """A model.keras, or the run folder that holds one; ModelError when there is none."""
    if path.is_dir() and (path / "model.keras").is_file():
        path = path / "model.keras"
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    return path


def load_keras_model(model_path: Path) -> Any:
    """A Keras classifier over the 29 classes (see model_file), or ModelError naming the file."""
    import keras

    model_path = model_file(model_path)
    if model_path.suffix.lower() in (".onnx", ".tflite"):  # Keras's own complaint was cut mid-word
        raise ModelError(f"{model_path}: an exported artifact; evaluate takes a run's model.keras "
                         "(score an artifact with `fingerspell benchmark --data FOLDER --model "
                         "FILE` or `fingerspell predict FOLDER --csv --model FILE`)")
    try:
        model = keras.models.load_model(model_path)
    except Exception as exc:  # Keras raises anything from ValueError to zipfile errors
        raise ModelError(f"{model_path}: not a loadable Keras model ({one_line(exc, 200)})") from None
    outputs = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if outputs != len(CLASSES):
        raise ModelError(f"{model_path}: gives {outputs} outputs, not one per class "
                         f"({len(CLASSES)})")
    return model


def evaluate_model(model_path: Path, folder: Path, out_dir: Path) -> dict[str, Any]:
    samples = discover(folder)  # before the model: a typo here costs no model load
    model = load_keras_model(model_path)
    size = int(model.input_shape[1])
    x, ok = load_pixel_arrays(samples, size)
    idx = np.flatnonzero(ok)
    if not len(idx):
        raise DatasetError(f"{folder}: no readable image ({len(samples)} unreadable)")
    pred = predict_batches(model, x[idx], batch=32).argmax(1)
    labels = np.array([samples[i].label for i in idx])
    report = classification_report(labels, pred, [person_of(samples[i]) for i in idx])
    report["unreadable"] = int((~ok).sum())
    write_report(report, out_dir, f"eval_{Path(folder).resolve().name}", f"{model_path} on {folder}")
    return report
