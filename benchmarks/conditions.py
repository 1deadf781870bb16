"""How the installed runtime reads photos taken under other conditions: other cameras, light and
resolution. Each photo of a labelled folder (a subfolder per class) is altered in memory, never
written, and read by `Recognizer()` exactly as `fingerspell predict` reads it.

    python benchmarks/conditions.py ../shared/data/dev/massey --per-class 12 \
        --json runs/conditions-massey.json

The runtime read is this checkout's (`runtime/` goes first on `sys.path`), not whichever is
installed: to compare two versions, run each checkout's own copy of this script.

Prints, per condition: photos right, the share read from a found hand (`read` = hand or
whole_photo), and the change against the unaltered photos; --json adds each photo's reading
(`each`: path, class, label, confidence, read). An evaluation only: nothing is fitted.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def _longest(side: int) -> Callable[[Image.Image], Image.Image]:
    def f(im: Image.Image) -> Image.Image:
        scale = side / max(im.size)
        if scale >= 1:
            return im
        return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                         Image.Resampling.BILINEAR)
    return f


def _jpeg(quality: int) -> Callable[[Image.Image], Image.Image]:
    def f(im: Image.Image) -> Image.Image:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return f


def _gain(k: float) -> Callable[[Image.Image], Image.Image]:
    def f(im: Image.Image) -> Image.Image:
        return Image.fromarray(np.clip(np.asarray(im, np.float64) * k, 0, 255).round().astype(np.uint8))
    return f


def _contrast(k: float) -> Callable[[Image.Image], Image.Image]:
    def f(im: Image.Image) -> Image.Image:
        a = np.asarray(im, np.float64)
        return Image.fromarray(np.clip(a.mean() + (a - a.mean()) * k, 0, 255).round().astype(np.uint8))
    return f


def _noise(sigma: float) -> Callable[[Image.Image], Image.Image]:
    def f(im: Image.Image) -> Image.Image:
        rng = np.random.default_rng(zlib.crc32(im.tobytes()))  # the same noise every run
        a = np.asarray(im, np.float64) + rng.normal(0, sigma, (im.height, im.width, 3))
        return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8))
    return f


def _tilt(degrees: float) -> Callable[[Image.Image], Image.Image]:
    def f(im: Image.Image) -> Image.Image:
        fill = tuple(int(c) for c in np.asarray(im).reshape(-1, 3).mean(0))  # no black corners
        return im.rotate(degrees, Image.Resampling.BILINEAR, expand=True, fillcolor=fill)
    return f


def _far(k: int) -> Callable[[Image.Image], Image.Image]:
    """The photo at its own size in the middle of a canvas k times as wide and high: the hand
    k times smaller in the frame, as from further away (the photo's colours, blurred, around it)."""
    def f(im: Image.Image) -> Image.Image:
        w, h = im.size
        canvas = im.resize((8, 8)).resize((w * k, h * k), Image.Resampling.BILINEAR)
        canvas = canvas.filter(ImageFilter.GaussianBlur(8))
        canvas.paste(im, ((w * k - w) // 2, (h * k - h) // 2))
        return canvas
    return f


CONDITIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "as is": lambda im: im,
    "grey": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "longest side 100 px": _longest(100),
    "longest side 64 px": _longest(64),
    "JPEG quality 15": _jpeg(15),
    "blur (radius 2)": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "sensor noise (sigma 12)": _noise(12),
    "dark (x0.4)": _gain(0.4),
    "overexposed (x1.6)": _gain(1.6),
    "low contrast (x0.5)": _contrast(0.5),
    "tilted 25 degrees": _tilt(25),
    "tilted 10 degrees": _tilt(10),  # a phone held a little askew, either way
    "tilted -10 degrees": _tilt(-10),
    "mirrored (the other hand)": ImageOps.mirror,
    "far away (x3)": _far(3),
    "far away (x5)": _far(5),
}


def photos(root: Path, per_class: int, between: float = 0.0) -> list[tuple[Path, str]]:
    """Up to `per_class` photos of each class, spread evenly over the class's sorted names.
    `between` > 0: instead, in each gap between two of those, the photo that share of the way
    across (rounded), where it is neither one of them nor a gap's midpoint unless `between` is
    0.5: a fresh sample of the same folder for a change designed on the first one."""
    out = []
    for cls in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in cls.rglob("*") if p.suffix.lower() in SUFFIXES)
        if per_class and len(files) > per_class:
            spread = np.linspace(0, len(files) - 1, per_class).round().astype(int).tolist()
            if between:
                gaps = list(pairwise(spread))
                taken = set(spread) | ({a + round((b - a) / 2) for a, b in gaps} if between != 0.5 else set())
                spread = [i for i in (a + round((b - a) * between) for a, b in gaps) if i not in taken]
            files = [files[i] for i in spread]
        out += [(f, cls.name) for f in files]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--per-class", type=int, default=12, help="photos per class (0: all)")
    ap.add_argument("--between", type=float, default=0.0,
                    help="a fresh sample: the photos this share of the way between those --per-class "
                         "takes (0.5: the midpoints; others skip the midpoints too)")
    ap.add_argument("--only", action="append", default=[], help="conditions to run (default: all)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-smooth-look", action="store_true",
                    help="the runtime without the hand finder's blurred look (its hands never kept)")
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))  # this checkout's
    from fingerspell import Recognizer, handcrop

    if a.no_smooth_look:
        del handcrop.COPIES["smooth"]  # what the runtime was before it

    chosen = {k: v for k, v in CONDITIONS.items() if not a.only or k in a.only or k == "as is"}
    items = photos(a.folder, a.per_class, a.between)
    originals = []
    for path, _ in items:
        with Image.open(path) as im:
            originals.append(ImageOps.exif_transpose(im).convert("RGB"))
    rec = Recognizer()
    report, base = {}, None
    print(f"{len(items)} photos of {a.folder}")
    for name, alter in chosen.items():
        t = time.perf_counter()
        preds = list(rec.predict_many([alter(im) for im in originals]))
        right = sum(p.ok and p.label == cls for p, (_, cls) in zip(preds, items, strict=True))
        reads = Counter(p.read if p.ok else "failed" for p in preds)
        wrong = Counter(f"{cls}->{p.label}" for p, (_, cls) in zip(preds, items, strict=True)
                        if p.ok and p.label != cls)
        row = {"photos": len(items), "right": right, "accuracy": right / len(items),
               "hand": (reads["hand"] + reads["whole_photo"]) / len(items), "reads": dict(reads),
               "most_confused": wrong.most_common(5), "seconds": round(time.perf_counter() - t, 1),
               # each photo's reading, so two runtimes' runs can be compared photo by photo
               "each": [[str(path), cls, p.label, round(p.confidence, 4), p.read] if p.ok
                        else [str(path), cls, None, None, "failed"]
                        for p, (path, cls) in zip(preds, items, strict=True)]}
        base = base if base is not None else row["accuracy"]
        report[name] = row
        print(f"{name:28s} {100 * row['accuracy']:5.1f} %  ({right:4d})  hand {100 * row['hand']:5.1f} %"
              f"  {100 * (row['accuracy'] - base):+5.1f}  {row['seconds']:5.1f} s"
              f"  {row['most_confused'][:3]}", flush=True)
    if a.json:
        a.json.write_text(json.dumps({"folder": str(a.folder), "per_class": a.per_class,
                                      "no_smooth_look": a.no_smooth_look, "conditions": report},
                                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
