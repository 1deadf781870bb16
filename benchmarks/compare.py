"""fingerspell's runtime vs the TensorFlow/Keras path, side by side in one run, with ratios.

    python benchmarks/compare.py --keras runs/ship/model.keras --images ../shared/data/dev/massey \
        [--runtime-python .venv-rt/bin/python] [--keras-python .venv/bin/python] [--venvs]

Measures, for each side: cold start of one prediction (a whole new process: imports, model load,
decode, inference), batch-1 latency (median and p90 of 50 runs after warm-up, decoded input),
folder throughput (decode + inference over N images), peak RSS of the cold-start process, and
with --venvs the installed size of a fresh runtime-only venv and of a TensorFlow venv. Also the
physical floor: the model's multiply-accumulates and this machine's sustained fp32 (numpy) and
int8 (onnxruntime MatMulInteger) rates. When the artifact has test-time augmentation inside
(metadata `artifact.tta`, e.g. flip: image and mirror), the Keras side computes the same (the
model wrapped by fingerspell_export.tta), and the floor counts the passes it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNTIME_COLD = """
import sys, time, resource
t = time.perf_counter()
from fingerspell import Recognizer
rec = Recognizer(sys.argv[1] if sys.argv[1] != '-' else None)
p = rec.predict(sys.argv[2])
print(p.label, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

TTA_OF = """
import json, sys
from fingerspell import Recognizer
rec = Recognizer(sys.argv[1] if sys.argv[1] != '-' else None)
art = rec.metadata.artifact
print(json.dumps({"tta": str(art.get("tta", "none")).split(":")[0],
                  "float_layers": art.get("float_layers", [])}))
"""

KERAS_COLD = """
import os, sys, time, resource
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
t = time.perf_counter()
import numpy as np, keras
from PIL import Image
model = keras.models.load_model(sys.argv[1])
if sys.argv[-1] == "flip":  # the artifacts average image and mirror: so does this side
    from fingerspell_export.tta import mirror_averaged
    model = mirror_averaged(model)
size = model.input_shape[1]
img = Image.open(sys.argv[2]).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
probs = model.predict(np.asarray(img, np.float32)[None], verbose=0)
print(int(probs.argmax()), time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

RUNTIME_WARM = """
import json, sys, time
import numpy as np
from fingerspell import Recognizer
rec = Recognizer(sys.argv[1] if sys.argv[1] != '-' else None)
files = json.loads(sys.argv[2])
x = rec.pixels(files[0])[None]
for _ in range(5): rec.probabilities(x)
ts = []
for _ in range(50):
    t = time.perf_counter(); rec.probabilities(x); ts.append(time.perf_counter() - t)
t = time.perf_counter()
n = sum(1 for r in rec.predict_many(files, batch_size=int(sys.argv[3])) if r.ok)
folder = time.perf_counter() - t
print(json.dumps({"p50_ms": 1000 * float(np.median(ts)), "p90_ms": 1000 * float(np.percentile(ts, 90)),
                  "folder_ips": n / folder, "n": n}))
"""

KERAS_WARM = """
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras
from PIL import Image
model = keras.models.load_model(sys.argv[1])
if sys.argv[-1] == "flip":  # the artifacts average image and mirror: so does this side
    from fingerspell_export.tta import mirror_averaged
    model = mirror_averaged(model)
size = model.input_shape[1]
files = json.loads(sys.argv[2])
def load(f):
    img = Image.open(f).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, np.float32)
x = load(files[0])[None]
for _ in range(5): model.predict_on_batch(x)
ts = []
for _ in range(50):
    t = time.perf_counter(); model.predict_on_batch(x); ts.append(time.perf_counter() - t)
t = time.perf_counter()
batch = np.stack([load(f) for f in files])
model.predict(batch, batch_size=32, verbose=0)
folder = time.perf_counter() - t
print(json.dumps({"p50_ms": 1000 * float(np.median(ts)), "p90_ms": 1000 * float(np.percentile(ts, 90)),
                  "folder_ips": len(files) / folder, "n": len(files)}))
"""

FLOOR = """
import json, sys, time
import numpy as np
n = 2048
a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
a @ b
reps = 5; t = time.perf_counter()
for _ in range(reps): a @ b
fp32 = 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9
int8 = None
try:
    import onnx, onnxruntime as ort
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["C"])], "mm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n]),
         helper.make_tensor_value_info("B", TensorProto.INT8, [n, n])],
        [helper.make_tensor_value_info("C", TensorProto.INT32, [n, n])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    A = np.random.randint(0, 255, (n, n), np.uint8); B = np.random.randint(-127, 127, (n, n), np.int8)
    s.run(None, {"A": A, "B": B}); t = time.perf_counter()
    for _ in range(reps): s.run(None, {"A": A, "B": B})
    int8 = 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9
except Exception as exc:
    print("int8 rate unavailable:", exc, file=sys.stderr)
print(json.dumps({"fp32_gflops": fp32, "int8_gops": int8}))
"""


def run(python: str, code: str, *args: str) -> str:
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return proc.stdout.strip().splitlines()[-1]


def model_macs(keras_python: str, keras_model: Path) -> dict[str, int]:
    """Multiply-accumulates per Keras layer (convolutions and dense layers) for one image."""
    code = """
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
m = keras.models.load_model(sys.argv[1])
macs = {}
def walk(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            walk(layer)
        elif type(layer).__name__ == "Conv2D":
            k = layer.kernel.shape
            h, w = layer.output.shape[1:3]
            macs[layer.name] = h * w * k[0] * k[1] * k[2] * k[3]
        elif type(layer).__name__ == "Dense":
            macs[layer.name] = layer.kernel.shape[0] * layer.kernel.shape[1]
walk(m)
print(json.dumps(macs))
"""
    return json.loads(run(keras_python, code, str(keras_model)))


def venv_size(spec: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "venv", tmp], check=True)
        subprocess.run([f"{tmp}/bin/pip", "install", "-q", spec], check=True, cwd=ROOT)
        total = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file() and not f.is_symlink())
        return total / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keras", type=Path, required=True, help="the .keras model the artifacts came from")
    ap.add_argument("--images", type=Path, required=True, help="folder of images (recursive)")
    ap.add_argument("--model", default="-", help="runtime artifact (default: the bundled one)")
    ap.add_argument("--n", type=int, default=200, help="images for the folder throughput")
    ap.add_argument("--runtime-python", default=sys.executable)
    ap.add_argument("--keras-python", default=sys.executable)
    ap.add_argument("--venvs", action="store_true", help="also build both venvs and measure them")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()

    files = sorted(str(p) for p in args.images.rglob("*.jpg"))
    files = files[:: max(1, len(files) // args.n)][: args.n]
    res: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
                 f"{os.cpu_count()} CPUs, {platform.processor() or ''}".strip(", "),
                 "command": " ".join(sys.argv)}
    art = json.loads(run(args.runtime_python, TTA_OF, args.model))
    tta = art["tta"]
    res["tta"] = tta
    cold_rt = [run(args.runtime_python, RUNTIME_COLD, args.model, files[0]).split() for _ in range(3)]
    cold_k = [run(args.keras_python, KERAS_COLD, str(args.keras), files[0], tta).split()
              for _ in range(3)]
    res["cold_start_s"] = {"runtime": min(float(c[1]) for c in cold_rt),
                           "keras": min(float(c[1]) for c in cold_k)}
    res["peak_rss_mb"] = {"runtime": max(float(c[2]) for c in cold_rt),
                          "keras": max(float(c[2]) for c in cold_k)}
    res["warm"] = {"runtime": json.loads(run(args.runtime_python, RUNTIME_WARM, args.model,
                                             json.dumps(files), "16")),
                   "keras": json.loads(run(args.keras_python, KERAS_WARM, str(args.keras),
                                           json.dumps(files), tta))}
    passes = 2 if tta == "flip" else 1
    per_layer = model_macs(args.keras_python, args.keras)
    macs = sum(per_layer.values()) * passes
    # layers the artifact computes in float (metadata artifact.float_layers): the floor of the
    # arithmetic it actually does counts them at the fp32 rate
    float_macs = sum(v for k, v in per_layer.items() if k in art["float_layers"]) * passes
    # The floor is the machine's, not the runtime's: measured where `onnx` (train extra) can build
    # the MatMulInteger graph; the runtime-only venv has no onnx package.
    floor = json.loads(run(args.keras_python, FLOOR))
    int8_rate = floor.get("int8_gops")
    res["floor"] = {"macs": macs, "float_macs": float_macs, **floor,
                    "fp32_floor_ms": 2 * macs / (floor["fp32_gflops"] * 1e9) * 1000,
                    "int8_floor_ms": 2 * macs / (int8_rate * 1e9) * 1000 if int8_rate else None,
                    "mixed_floor_ms": (2 * ((macs - float_macs) / int8_rate
                                            + float_macs / floor["fp32_gflops"]) / 1e9 * 1000
                                       if int8_rate else None)}
    if args.venvs:
        res["venv_mb"] = {"runtime": venv_size("."), "keras": venv_size("tensorflow")}
    w = res["warm"]
    res["ratios"] = {
        "cold_start_keras_over_runtime": res["cold_start_s"]["keras"] / res["cold_start_s"]["runtime"],
        "throughput_runtime_over_keras": w["runtime"]["folder_ips"] / w["keras"]["folder_ips"],
        "latency_keras_over_runtime": w["keras"]["p50_ms"] / w["runtime"]["p50_ms"],
        "rss_keras_over_runtime": res["peak_rss_mb"]["keras"] / res["peak_rss_mb"]["runtime"],
        "runtime_latency_over_int8_floor": (w["runtime"]["p50_ms"] / res["floor"]["int8_floor_ms"]
                                            if res["floor"]["int8_floor_ms"] else None),
        "runtime_latency_over_mixed_floor": (w["runtime"]["p50_ms"] / res["floor"]["mixed_floor_ms"]
                                             if res["floor"]["mixed_floor_ms"] else None),
    }
    if "venv_mb" in res:
        res["ratios"]["venv_keras_over_runtime"] = res["venv_mb"]["keras"] / res["venv_mb"]["runtime"]
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    shutil.rmtree(ROOT / "build", ignore_errors=True)


if __name__ == "__main__":
    main()
