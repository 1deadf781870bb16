"""`fingerspell benchmark` on the tiny model: a well-formed table and JSON (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fingerspell.artifact import bundled_dir
from fingerspell.cli import app
from fingerspell.handpose import DEFAULT_POSE_HEAD

pytest.importorskip("tensorflow", reason="the tiny test model is trained with the train extra")


def test_benchmark_table_and_json(exported: Path, tiny_dataset: Path) -> None:
    runner = CliRunner()
    models = ["--model", str(exported / "tiny-int8.onnx"), "--model", str(exported / "tiny-int8.tflite")]
    res = runner.invoke(app, ["benchmark", *models, "--data", str(tiny_dataset), "--runs", "5",
                              "--limit", "30", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["artifact"] for r in rows] == ["tiny-int8.onnx", "tiny-int8.tflite"]
    for r in rows:
        assert r["error"] is None and r["images"] == 30 and 0 <= r["accuracy"] <= 1
        assert r["latency_ms_p90"] >= r["latency_ms_median"] > 0 and r["peak_rss_mb"] > 0
        assert r["passed"] == (r["accuracy"] >= 0.5) and r["size_mb"] > 0
        assert r["photo_ms_mean"] > 0  # photos of --data timed from file to answer
        # the tiny model: no crop (whole-image metadata); its labels are the bundled pose head's,
        # which every install reads with the bundled hand models
        bundled_head = (bundled_dir() / DEFAULT_POSE_HEAD).is_file()
        assert r["reads"].startswith("network+pose+mirror") if bundled_head else r["reads"] == "network"
    text = runner.invoke(app, ["benchmark", *models, "--runs", "3"]).stdout
    assert "ms p50" in text and "tiny-int8.tflite" in text and "accuracy floor" in text
    assert "ms/photo" in text and " -  network" in text  # no --data: no photo to time


def test_benchmark_reports_a_broken_artifact(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"nope")
    res = CliRunner().invoke(app, ["benchmark", "--model", str(bad), "--runs", "2"])
    assert res.exit_code == 3 and "error:" in res.stdout and "broken.onnx" in res.stderr


def test_benchmark_data_is_read_as_train_and_adapt_read_folders(tmp_path: Path) -> None:
    from fingerspell.benchmark import labelled

    for rel in ("a/1.jpg", "B/monday/2.jpg", "B/3.jpg", "B/.thumbs/4.jpg", "notes/5.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    # a lowercase class folder and a subfolder were left out unsaid
    got = [(str(p.relative_to(tmp_path)), c) for p, c in labelled(tmp_path)]
    assert got == [("B/3.jpg", "B"), ("B/monday/2.jpg", "B"), ("a/1.jpg", "A")]


def test_peak_memory_is_read_on_each_os(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource
    import sys

    from fingerspell import benchmark

    class Usage:
        ru_maxrss = 300 * 2**20  # bytes on macOS, KiB on Linux

    monkeypatch.setattr(resource, "getrusage", lambda who: Usage())
    monkeypatch.setattr(sys, "platform", "darwin")
    assert benchmark.peak_rss_mb() == 300  # was read as KiB: 307,200 MB
    monkeypatch.setattr(sys, "platform", "linux")
    assert benchmark.peak_rss_mb() == 300 * 1024
    monkeypatch.setitem(sys.modules, "resource", None)  # Windows: no such module
    assert benchmark.peak_rss_mb() is None  # was a ModuleNotFoundError traceback
    row = benchmark.Row("a.onnx", "onnx", "onnxruntime", 15.1, None, 0, 50.0, 60.0, 20.0, 8, None, 1.0)
    assert benchmark.table([row], 0.5).splitlines()[2].split()[8] == "-"  # the RSS column
