"""Score any saved Keras model on a labelled folder, from pixels (no cache involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fingerspell_train.dataset import discover, person_of
from fingerspell_train.features import load_pixel_arrays
from fingerspell_train.fit import predict_batches
from fingerspell_train.report import classification_report, write_report


def evaluate_model(model_path: Path, folder: Path, out_dir: Path) -> dict[str, Any]:
    import keras

    model = keras.models.load_model(model_path)
    size = int(model.input_shape[1])
    samples = discover(folder)
    x, ok = load_pixel_arrays(samples, size)
    idx = np.flatnonzero(ok)
    pred = predict_batches(model, x[idx], batch=32).argmax(1)
    labels = np.array([samples[i].label for i in idx])
    report = classification_report(labels, pred, [person_of(samples[i]) for i in idx])
    report["unreadable"] = int((~ok).sum())
    write_report(report, out_dir, f"eval_{Path(folder).name}", f"{model_path} on {folder}")
    return report
