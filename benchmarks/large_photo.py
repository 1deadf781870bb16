"""What a 12-megapixel phone photo costs against a 200x200 one, end to end.

    python benchmarks/large_photo.py [--model ARTIFACT] [--image PHOTO] [--runs 30] [--json OUT]

From one real photo it writes a 4000x3000 JPEG (upscaled, with sensor-like noise so it compresses
like a phone photo, quality 92: a few MB) and a 200x200 JPEG, then times both through the
runtime: in one process (`Recognizer.predict(path)`: read, decode, resize, infer; median of
--runs after a warm-up) and as a whole `fingerspell predict` process (best of 3). Run it with the
Python of a runtime venv; no TensorFlow needed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT.parent / "shared/data/dev/massey/L/hand2_l_bot_seg_1_cropped.jpg"


def make_photos(src: Path, out: Path) -> dict[str, Path]:
    img = Image.open(src).convert("RGB")
    big = np.asarray(img.resize((4000, 3000), Image.Resampling.BICUBIC), np.float32)
    noise = np.random.default_rng(0).normal(0, 6, big.shape)  # sensor noise: phone-like entropy
    photos = {"12mp": out / "phone-4000x3000.jpg", "small": out / "small-200x200.jpg"}
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(photos["12mp"], quality=92)
    img.resize((200, 200), Image.Resampling.BICUBIC).save(photos["small"], quality=92)
    return photos


def warm_ms(model: str | None, path: Path, runs: int) -> float:
    from fingerspell import Recognizer
    from fingerspell.benchmark import timed_ms

    rec = Recognizer(model)
    return float(np.median(timed_ms(lambda: rec.predict(path), runs, warmup=3)))


def cold_s(model: str | None, path: Path) -> float:
    cmd = [str(Path(sys.executable).with_name("fingerspell")), "predict", str(path)]
    if model:
        cmd += ["--model", model]
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="artifact (default: the bundled one)")
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="photo to build both from")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(args.image, Path(tmp))
        res: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(sys.argv),
                     "bytes": {k: p.stat().st_size for k, p in photos.items()}}
        res["warm_ms"] = {k: warm_ms(args.model, p, args.runs) for k, p in photos.items()}
        res["cold_s"] = {k: cold_s(args.model, p) for k, p in photos.items()}
    res["ratio_warm"] = res["warm_ms"]["12mp"] / res["warm_ms"]["small"]
    res["ratio_cold"] = res["cold_s"]["12mp"] / res["cold_s"]["small"]
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
