"""An onnxruntime that is installed but cannot be imported is a one-line error, not a traceback.

onnxruntime 1.17 under numpy 2 prints numpy's banner and a traceback on sys.stderr, then raises a
bare ImportError: the fake package below does the same, ahead of the real one on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

FAKE = '''import sys
sys.stderr.write("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.\\n"
                 "Traceback (most recent call last):\\n  File ...\\n"
                 "AttributeError: _ARRAY_API not found\\n")
raise ImportError()
'''


def fake_onnxruntime(tmp_path: Path, source: str) -> dict[str, str]:
    """The environment of a child Python that imports this `onnxruntime` ahead of the real one."""
    (tmp_path / "fake" / "onnxruntime").mkdir(parents=True)
    (tmp_path / "fake" / "onnxruntime" / "__init__.py").write_text(source)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "fake"), env.get("PYTHONPATH", "")])
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.fixture
def broken_env(tmp_path: Path) -> dict[str, str]:
    return fake_onnxruntime(tmp_path, FAKE)


def test_cli_names_the_model_and_exits_5(tmp_path: Path, broken_env: dict[str, str]) -> None:
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(photo)
    proc = subprocess.run([sys.executable, "-m", "fingerspell", "predict", str(photo)],
                          capture_output=True, text=True, timeout=120, env=broken_env)
    assert proc.returncode == 5, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "fingerspell-vgg16-int8.onnx: onnxruntime cannot be imported" in lines[0]
    assert "_ARRAY_API not found" in lines[0]
    assert "pip install -U onnxruntime" in lines[0]


def test_api_raises_missing_extra(broken_env: dict[str, str]) -> None:
    proc = run_python("from fingerspell import Recognizer\n"
                      "from fingerspell.errors import MissingExtraError\n"
                      "try:\n    Recognizer()\nexcept MissingExtraError as e:\n    print('caught', e)\n",
                      broken_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("caught ") and "onnxruntime cannot be imported" in proc.stdout
    assert proc.stderr == ""  # the banner went into the message, not onto the caller's stderr


def test_a_working_import_keeps_what_it_printed(tmp_path: Path) -> None:
    env = fake_onnxruntime(tmp_path, "import sys\nsys.stderr.write('hello\\n')\n")
    proc = run_python("from fingerspell.backends.onnx import import_onnxruntime\n"
                      "print(import_onnxruntime('x').__file__)\n", env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "fake" / "onnxruntime" / "__init__.py")
    assert proc.stderr == "hello\n"


def test_ctrl_c_during_its_start_up_is_not_called_a_broken_install(tmp_path: Path) -> None:
    # what onnxruntime raises when Ctrl-C lands in its native initialisation
    env = fake_onnxruntime(tmp_path, "try:\n    raise KeyboardInterrupt\nexcept KeyboardInterrupt:\n"
                                     "    raise ImportError('initialization failed')\n")
    proc = run_python("from fingerspell.backends.onnx import import_onnxruntime\n"
                      "try:\n    import_onnxruntime('x')\nexcept KeyboardInterrupt:\n"
                      "    print('interrupted')\n", env)
    assert proc.stdout.strip() == "interrupted", (proc.stdout, proc.stderr)
