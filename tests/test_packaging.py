"""`pip install .` must not pull TensorFlow; importing the runtime must not load it either."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "tf-keras", "keras", "tf2onnx", "jax", "torch")


def test_runtime_dependencies_are_light() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in deps]
    assert not set(names) & set(HEAVY)


def test_pip_resolves_the_runtime_without_tensorflow(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), str(ROOT)],
        capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        if "No matching distribution" in proc.stderr or "Could not fetch" in proc.stderr:
            pytest.skip(f"no package index reachable: {proc.stderr.strip().splitlines()[-1]}")
        raise AssertionError(proc.stderr)
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert "fingerspell" in names and "onnxruntime" in names
    assert not names & set(HEAVY), names & set(HEAVY)


def test_import_is_cheap_and_tensorflow_free() -> None:
    code = ("import sys, fingerspell\n"
            "from fingerspell import Recognizer, CLASSES\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'onnxruntime', 'numpy', 'PIL') "
            "if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = set(filter(None, out.stdout.strip().split(",")))
    assert "tensorflow" not in loaded and "keras" not in loaded and "onnxruntime" not in loaded
