"""End-to-end training on a generated dataset: learning happens and every report is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="needs the train extra")

from typer.testing import CliRunner

from fingerspell.cli import app

RUN_FILES = ["model.keras", "config.json", "metadata.json", "history.json", "curves.png",
             "val_report.txt", "val_report.json", "val_report_confusion.png", "summary.json"]


def _train(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_small_cnn_learns_and_writes_reports(tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    _train([str(tiny_dataset), "--preset", "small-cnn", "--input-size", "32", "--epochs", "8",
            "--steps", "10", "--out", str(out)])
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["val_accuracy"] >= 0.7  # six classes: chance is 0.17
    report = json.loads((out / "val_report.json").read_text())
    assert set(report["per_class"]) == {"A", "B", "C", "D", "E", "space"}
    assert set(report["per_group"]) == {"alice", "bob"}
    config = json.loads((out / "config.json").read_text())
    assert config["preset"]["batch_size"] == 20 and config["split"]["method"] == "block"
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["schema"] == "fingerspell.model" and len(meta["labels"]) == 29


@pytest.mark.slow
def test_vgg_run_through_cache_matches_the_saved_model(tiny_dataset: Path, tmp_path: Path) -> None:
    """The top trained on cached activations and the assembled full model are one network."""
    import keras

    from fingerspell_train.evaluate import evaluate_model

    out = tmp_path / "vgg"
    cache = tmp_path / "cache"
    args = [str(tiny_dataset), "--preset", "vgg16-ft", "--backbone-weights", "none",
            "--input-size", "32", "--epochs", "2", "--trainable-from", "block5_conv3",
            "--augment-views", "1", "--cache-dir", str(cache), "--eval", str(tiny_dataset),
            "--out", str(out)]
    _train(args)
    for name in [*RUN_FILES, "eval_tiny.txt", "eval_tiny_confusion.png"]:
        assert (out / name).is_file(), name
    entries = sorted(p.parent.name for p in cache.glob("*/meta.json"))
    assert len(entries) == 2  # view 0 and one augmented view
    via_cache = json.loads((out / "eval_tiny.json").read_text())
    direct = evaluate_model(out / "model.keras", tiny_dataset, tmp_path / "direct")
    agree = np.mean(np.array(via_cache["confusion_matrix"]) == np.array(direct["confusion_matrix"]))
    assert agree > 0.99 and abs(via_cache["accuracy"] - direct["accuracy"]) <= 0.02
    model = keras.models.load_model(out / "model.keras")
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 29)
    mtimes = {p: p.stat().st_mtime for p in cache.glob("*/features.npy")}
    _train([*args[:-2], "--out", str(tmp_path / "again")])  # second run reuses the cache
    assert {p: p.stat().st_mtime for p in cache.glob("*/features.npy")} == mtimes


def test_train_reports_bad_dataset_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    result = CliRunner().invoke(app, ["train", str(tmp_path), "--preset", "small-cnn"])
    assert result.exit_code == 4
    assert "does not look like a dataset" in result.output
    assert "Traceback" not in result.output
