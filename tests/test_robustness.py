"""Hostile inputs: fuzzed bytes, a folder with bad files mixed in, many threads at once."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_threads
from hostile_files import CORPUS, OK, write_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from fingerspell.errors import InputError
from fingerspell.sources import load_pixels


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (24, 24, 3), np.uint8))
    out = []
    for fmt in ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        out.append(buf.getvalue())
    return out


SEEDS = _seed_images()
FUZZ_EXAMPLES = int(os.environ.get("FINGERSPELL_FUZZ_EXAMPLES", "300"))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut])


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.binary(max_size=2048)))
def test_fuzzed_bytes_give_pixels_or_input_error(data: bytes) -> None:
    try:
        px = load_pixels(data, (16, 16))
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        assert px.shape == (16, 16, 3) and px.dtype == np.uint8


@pytest.fixture(scope="module")
def hostile_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {p.name: p for p in write_corpus(tmp_path_factory.mktemp("hostile"))}


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_corpus_gives_pixels_or_one_line_error(hostile_corpus: dict[str, Path], name: str) -> None:
    """The issue's list of hostile files (also benchmarks/hostile.py): each as expected, quickly."""
    path, expect = hostile_corpus[name], CORPUS[name][1]
    start = time.perf_counter()
    try:
        px = load_pixels(path, (150, 150))
    except InputError as exc:
        message = str(exc)
        assert expect != OK, message
        assert re.search(expect, message) and message.startswith(f"{path}: ") and "\n" not in message
    else:
        assert expect == OK and px.shape == (150, 150, 3) and px.dtype == np.uint8
    assert time.perf_counter() - start < 2.0


def test_cli_folder_with_bad_files_mixed_in(exported: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    from fingerspell.cli import app

    folder = tmp_path / "mixed"
    folder.mkdir()
    good = sorted(tiny_dataset.glob("A/*.jpg"))[:4]
    for i, g in enumerate(good):
        (folder / f"{i}_good.jpg").write_bytes(g.read_bytes())
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("not an image")
    (folder / "cut.jpg").write_bytes(good[0].read_bytes()[:200])
    (folder / "dir.jpg").mkdir()
    (folder / "loop").symlink_to(folder)
    res = CliRunner().invoke(app, ["predict", str(folder), "--model", str(exported / "tiny-int8.onnx"),
                                   "--csv"])
    assert res.exit_code == 1
    rows = res.stdout.strip().splitlines()[1:]
    by_name = {Path(r.split(",")[0]).name: r for r in rows}
    assert all(by_name[f"{i}_good.jpg"].split(",")[1] == "A" for i in range(4))
    for bad in ("empty.jpg", "text.png", "cut.jpg"):
        assert by_name[bad].split(",")[3], bad
    assert "Traceback" not in res.output


@pytest.mark.parametrize("name", ["tiny-int8.onnx", "tiny-int8.tflite"])
def test_eight_threads_two_hundred_predictions_each(exported: Path, tiny_dataset: Path, name: str) -> None:
    from fingerspell.recognizer import Recognizer

    rec = Recognizer(exported / name)
    files = sorted(tiny_dataset.glob("*/*.jpg"))[::9]
    pixels = [rec.pixels(f) for f in files]
    serial = [rec.probabilities(p[None])[0].argmax() for p in pixels]
    mismatches = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(200):
            i = int(rng.integers(len(pixels)))
            if rec.probabilities(pixels[i][None])[0].argmax() != serial[i]:
                mismatches.append(i)

    assert not run_threads(work, 8)
    assert not mismatches


def test_closed_output_pipe_stops_quietly_with_141(exported: Path, tiny_dataset: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "fingerspell", "predict", str(tiny_dataset),
         "--model", str(exported / "tiny-int8.onnx")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head` that has read enough, before the first line
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err and b"Exception ignored" not in err
