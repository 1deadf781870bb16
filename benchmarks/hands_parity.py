"""The bundled hand models against MediaPipe itself: same hands found, how far apart the landmarks.

    .hands/bin/python benchmarks/hands_parity.py --photos ../shared/data/dev/massey:200 \
        --photos ../shared/data/train/multi:100 --photos ../shared/data/train/kaggle:60

Runs where MediaPipe is installed (the `[hands]` venv). Each FOLDER:N takes N photos of FOLDER's
class folders, shuffled with a fixed seed; both finders get the same pixels, as the runtime's
look() gives them (at most 2,048 px a side). Prints how often each finds a hand, how often they
agree on the handedness, the largest landmark difference per photo (image fractions; metres for
the world landmarks) and the time a photo.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from fingerspell.files import IMAGE_SUFFIXES
from fingerspell.handcrop import detection_copy, hand_finder


def photos(spec: str, rng: random.Random) -> list[Path]:
    folder, _, n = spec.rpartition(":")
    files = sorted(p for p in Path(folder).glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    rng.shuffle(files)
    return files[:int(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", action="append", required=True, metavar="FOLDER:N")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    files = [p for spec in a.photos for p in photos(spec, rng)]
    ours, theirs = hand_finder("onnx"), hand_finder("mediapipe")
    counts = {"both": 0, "only mediapipe": 0, "only onnx": 0, "neither": 0}
    points, world, same_hand = [], [], 0
    seconds = {"onnx": 0.0, "mediapipe": 0.0}
    for path in files:
        pixels = np.asarray(detection_copy(Image.open(path)))
        found = {}
        for name, finder in (("mediapipe", theirs), ("onnx", ours)):
            t = time.perf_counter()
            found[name] = finder.find(pixels)
            seconds[name] += time.perf_counter() - t
        a_, b_ = found["onnx"], found["mediapipe"]
        if a_ and b_:
            counts["both"] += 1
            points.append(np.abs(np.subtract(a_.points, b_.points)).max())
            world.append(np.abs(np.subtract(a_.world, b_.world)).max())
            same_hand += a_.right == b_.right
        else:
            counts["only onnx" if a_ else "only mediapipe" if b_ else "neither"] += 1
            if a_ or b_:
                print(f"{path}: a hand only for {'onnx' if a_ else 'mediapipe'}")
    print(f"{len(files)} photos: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; same handedness {same_hand} of {counts['both']}")
    for name, d in (("landmarks (image fractions)", points), ("world landmarks (m)", world)):
        if d:
            print(f"{name}: largest difference a photo, median {np.median(d):.4f}, "
                  f"90th percentile {np.percentile(d, 90):.4f}, max {np.max(d):.4f}")
    print("ms a photo (one find each, no second look): "
          + ", ".join(f"{k} {1000 * v / len(files):.1f}" for k, v in seconds.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
