"""The runtime and CLI on an exported tiny model: sources, batches, threads, exit codes, JSON."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_threads
from PIL import Image
from typer.testing import CliRunner

from fingerspell.cli import app
from fingerspell.recognizer import Recognizer
from fingerspell.results import Failure, Prediction

pytest.importorskip("tensorflow", reason="the tiny test model is trained with the train extra")

BACKENDS = ["tiny-int8.onnx", "tiny-int8.tflite"]


@pytest.fixture(scope="module")
def good(tiny_dataset: Path) -> list[Path]:
    return sorted(tiny_dataset.glob("*/*.jpg"))[::7]


@pytest.mark.parametrize("name", BACKENDS)
def test_every_source_kind_gives_the_same_answer(exported: Path, good: list[Path], name: str) -> None:
    rec = Recognizer(exported / name)
    f = good[0]
    data = f.read_bytes()
    img = Image.open(f)
    answers = [rec.predict(f), rec.predict(str(f)), rec.predict(data), rec.predict(io.BytesIO(data)),
               rec.predict(img), rec.predict(np.asarray(img.convert("RGB")))]
    assert len({(a.label, round(a.confidence, 4)) for a in answers}) == 1
    assert f.parent.name == answers[0].label


def test_predict_many_keeps_order_and_reports_failures(exported: Path, good: list[Path],
                                                       tmp_path: Path) -> None:
    rec = Recognizer(exported / "tiny-int8.onnx")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    sources = [good[0], bad, *good[1:5], tmp_path / "missing.png", good[5]]
    results = list(rec.predict_many(sources, batch_size=3))
    assert [r.source for r in results] == [str(s) for s in sources]
    assert isinstance(results[1], Failure) and "not an image" in results[1].error
    assert isinstance(results[6], Failure) and "no such file" in results[6].error
    one_by_one = [rec.predict(s) for s in sources if s not in (bad, tmp_path / "missing.png")]
    assert [r.label for r in results if isinstance(r, Prediction)] == [r.label for r in one_by_one]


def test_top_k_is_sorted(exported: Path, good: list[Path]) -> None:
    p = Recognizer(exported / "tiny-int8.onnx").predict(good[0], top_k=5)
    scores = [s for _, s in p.top_k]
    assert len(p.top_k) == 5 and scores == sorted(scores, reverse=True)
    assert p.top_k[0] == (p.label, p.confidence)


@pytest.mark.parametrize("name", BACKENDS)
def test_threads_share_one_recognizer(exported: Path, good: list[Path], name: str) -> None:
    rec = Recognizer(exported / name)
    serial = [rec.predict(f).label for f in good]
    results: dict[int, list[str]] = {}

    def work(i: int) -> None:
        results[i] = [rec.predict(f).label for f in good * 3][: len(good)]

    assert not run_threads(work, 4)
    assert len(results) == 4 and all(r == serial for r in results.values())


def test_cli_predict_formats_and_exit_codes(exported: Path, good: list[Path], tmp_path: Path) -> None:
    runner = CliRunner()
    model = str(exported / "tiny-int8.onnx")
    ok = runner.invoke(app, ["predict", str(good[0]), "--model", model, "-k", "2"])
    assert ok.exit_code == 0 and good[0].parent.name in ok.output
    bad = tmp_path / "x.jpg"
    bad.write_text("hello")
    res = runner.invoke(app, ["predict", str(good[0]), str(bad), str(good[1]), "--json",
                              "--model", model])
    assert res.exit_code == 1
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert [("error" in d) for d in lines] == [False, True, False]
    assert lines[1]["kind"] == "InputError"
    csv_res = runner.invoke(app, ["predict", str(good[0]), "--csv", "--model", model])
    assert csv_res.stdout.splitlines()[0] == "source,label,confidence,error"
    folder = runner.invoke(app, ["predict", str(good[0].parent), "--model", model])
    assert folder.exit_code == 0 and len(folder.stdout.splitlines()) == len(list(good[0].parent.iterdir()))
    missing = runner.invoke(app, ["predict", str(good[0]), "--model", str(tmp_path / "no.onnx")])
    assert missing.exit_code == 3 and "no such model file" in missing.output


def test_cli_spell_and_info(exported: Path, tiny_dataset: Path) -> None:
    runner = CliRunner()
    model = str(exported / "tiny-int8.onnx")
    frames = [tiny_dataset / "A" / "alice_A1.jpg", tiny_dataset / "B" / "alice_B1.jpg",
              tiny_dataset / "space" / "alice_space1.jpg", tiny_dataset / "C" / "alice_C1.jpg"]
    res = runner.invoke(app, ["spell", *map(str, frames), "--model", model, "--threshold", "0.3"])
    assert res.exit_code == 0 and res.stdout.strip() == "AB C"
    info = runner.invoke(app, ["info", "--model", model])
    assert info.exit_code == 0 and "labels     29" in info.stdout
    doc = json.loads(runner.invoke(app, ["info", "--model", model, "--json"]).stdout)
    assert doc["schema"] == "fingerspell.model"
    for verb in ("predict", "spell", "info", "train", "evaluate", "export"):
        help_text = runner.invoke(app, [verb, "--help"]).stdout
        assert "Example" in help_text, verb
    assert runner.invoke(app, ["--version"]).stdout.startswith("fingerspell ")


def test_real_process_stdin_and_no_tensorflow(exported: Path, good: list[Path]) -> None:
    """A real `fingerspell` process: stdin input, JSON out, and TensorFlow never imported."""
    code = (
        "import sys\n"
        "from fingerspell.cli import main\n"
        "sys.argv = ['fingerspell', 'predict', '-', '--json', '--model', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
        "    raise\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", code, str(exported / "tiny-int8.onnx")],
                          input=good[0].read_bytes(), capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout.decode().splitlines()[0])
    assert doc["source"] == "-" and doc["label"] == good[0].parent.name
    assert b"Traceback" not in proc.stderr
