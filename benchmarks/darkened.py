"""An underexposed copy of a folder of photos: every pixel times --scale, written as PNG (no JPEG
noise added), the class folders kept. What a photo taken against the light or in a dim room
gives the hand finder; for evaluation copies only (never write into ../shared).

    python benchmarks/darkened.py ../shared/data/dev/massey /tmp/massey-dark --scale 0.3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--scale", type=float, default=0.3, help="brightness kept (0-1)")
    a = ap.parse_args()
    if not 0 < a.scale <= 1:
        ap.error("--scale must be in (0, 1]")
    count = 0
    for path in sorted(a.src.rglob("*")):
        if path.suffix.lower() not in SUFFIXES:
            continue
        with Image.open(path) as im:
            pixels = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.float64)
        out = a.dst / path.relative_to(a.src).with_suffix(".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(pixels * a.scale).astype(np.uint8)).save(out)
        count += 1
    print(f"{count} images written to {a.dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
