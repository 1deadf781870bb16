"""onnxruntime's usage telemetry is off unless the user turns it on: 1.32 on Linux wrote a device
id and a queue of events to send to Microsoft under ~/.cache/Microsoft at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image
from test_broken_onnxruntime import fake_onnxruntime, run_python

SAYS_SWITCH = "import os\nprint('switch', os.environ.get('ORT_DISABLE_TELEMETRY'))\n"
IMPORT = "from fingerspell.backends.onnx import import_onnxruntime\nimport_onnxruntime('m.onnx')\n"


def test_the_switch_is_set_before_onnxruntime_is_imported(tmp_path: Path) -> None:
    env = fake_onnxruntime(tmp_path, SAYS_SWITCH)  # an onnxruntime that shows what it was given
    env.pop("ORT_DISABLE_TELEMETRY", None)
    assert "switch 1" in run_python(IMPORT, env).stdout
    env["ORT_DISABLE_TELEMETRY"] = "0"  # the user's own choice stands
    assert "switch 0" in run_python(IMPORT, env).stdout


def test_a_prediction_leaves_nothing_in_home(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(photo)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"} | {"HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "fingerspell", "predict", str(photo)], text=True,
                          capture_output=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    # (an onnxruntime older than its telemetry writes nothing either way)
    assert [str(p.relative_to(home)) for p in home.rglob("*")] == []


def test_on_windows_the_wheel_s_own_switch_is_turned_off(tmp_path: Path) -> None:
    # the Windows wheel reads no ORT_DISABLE_TELEMETRY: its events go through Windows' tracing
    says_off = ("def disable_telemetry_events():\n    print('events off')\n")
    env = fake_onnxruntime(tmp_path, says_off)
    env.pop("ORT_DISABLE_TELEMETRY", None)
    as_windows = "import os\nos.name = 'nt'\n" + IMPORT
    assert "events off" in run_python(as_windows, env).stdout
    env["ORT_DISABLE_TELEMETRY"] = "0"  # the user's own choice stands
    assert "events off" not in run_python(as_windows, env).stdout
    env.pop("ORT_DISABLE_TELEMETRY")
    assert "events off" not in run_python(IMPORT, env).stdout  # elsewhere the variable does it
