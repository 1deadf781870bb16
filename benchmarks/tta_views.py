"""Do more test-time views pay? Each image read through an artifact at several crops and rotations.

    python benchmarks/tta_views.py artifacts/fingerspell-vgg16-int8.onnx \
        --data ../shared/data/dev/massey --out runs/tta-views-massey.npz
    python benchmarks/tta_views.py artifacts/fingerspell-vgg16-int8.onnx \
        --val-of runs/gpu-a2k --limit 1500 --out runs/tta-views-val.npz
    python benchmarks/tta_views.py --report runs/tta-views-massey.npz runs/tta-views-val.npz

The first two write every view's probabilities (the artifact's own TTA, e.g. the mirror, stays
inside each view); --report scores the fixed candidate view sets on each file, per group (Massey:
per person). One thread each, no hand crop (the images are taken as they are).
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

import numpy as np

# name -> (kind, argument). Crops keep a fraction of each side; corners keep 85 %.
VIEWS: dict[str, tuple[str, float]] = {
    "id": ("crop", 1.0), "c90": ("crop", 0.9), "c80": ("crop", 0.8), "c70": ("crop", 0.7),
    "tl85": ("corner", 0), "tr85": ("corner", 1), "bl85": ("corner", 2), "br85": ("corner", 3),
    "r+10": ("rotate", 10.0), "r-10": ("rotate", -10.0),
    # Added after the first scores (crops lost on Massey's tight crops): zoom out instead, the
    # margin filled with the median colour of the image's border.
    "p10": ("pad", 0.1), "p25": ("pad", 0.25),
    # Added after the pad views: colour instead of geometry.
    "gray": ("gray", 0), "g0.7": ("gamma", 0.7), "g1.4": ("gamma", 1.4),
}
# Written before any view was scored: the sets compared, the current artifact first.
CANDIDATES: dict[str, list[str]] = {
    "id (shipped)": ["id"],
    "id+c90": ["id", "c90"],
    "id+c80": ["id", "c80"],
    "id+c90+c80": ["id", "c90", "c80"],
    "id+c90+c80+c70": ["id", "c90", "c80", "c70"],
    "id+4 corners": ["id", "tl85", "tr85", "bl85", "br85"],
    "id+r±10": ["id", "r+10", "r-10"],
    "all 10": list(VIEWS)[:10],
    # Added with the pad views, after the first scores.
    "id+p10": ["id", "p10"],
    "id+p25": ["id", "p25"],
    "id+p10+p25": ["id", "p10", "p25"],
    # Added with the colour views.
    "id+gray": ["id", "gray"],
    "id+g0.7+g1.4": ["id", "g0.7", "g1.4"],
}


def view(img, name: str):
    kind, arg = VIEWS[name]
    w, h = img.size
    if kind == "crop":
        if arg == 1.0:
            return img
        cw, ch = round(w * arg), round(h * arg)
        x, y = (w - cw) // 2, (h - ch) // 2
        return img.crop((x, y, x + cw, y + ch))
    if kind == "corner":
        cw, ch = round(w * 0.85), round(h * 0.85)
        x = 0 if int(arg) in (0, 2) else w - cw
        y = 0 if int(arg) in (0, 1) else h - ch
        return img.crop((x, y, x + cw, y + ch))
    if kind == "gray":
        return img.convert("L").convert("RGB")
    if kind == "gamma":
        lut = [round(255 * (i / 255) ** arg) for i in range(256)]
        return img.point(lut * 3)
    if kind == "pad":
        a = np.asarray(img)
        border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
        colour = tuple(int(c) for c in np.median(border, axis=0))
        from PIL import Image

        dx, dy = round(w * arg), round(h * arg)
        out = Image.new("RGB", (w + 2 * dx, h + 2 * dy), colour)
        out.paste(img, (dx, dy))
        return out
    # Rotate, then keep the middle 85 % so that no filled corner is seen.
    from PIL import Image

    r = img.rotate(arg, resample=Image.Resampling.BILINEAR)
    cw, ch = round(w * 0.85), round(h * 0.85)
    x, y = (w - cw) // 2, (h - ch) // 2
    return r.crop((x, y, x + cw, y + ch))


def record(rec, samples, group_of, names: list[str]) -> dict[str, np.ndarray]:
    from fingerspell.imaging import open_image, resize_to_input, to_rgb

    probs, labels, groups = [], [], []
    for i, s in enumerate(samples):
        img = to_rgb(open_image(Path(s.path), str(s.path)))
        batch = np.stack([np.asarray(resize_to_input(view(img, v), rec.size), dtype=np.uint8)
                          for v in names])
        probs.append(rec.probabilities(batch))
        labels.append(s.label)
        groups.append(group_of(s))
        if i % 200 == 0:
            print(f"{i}/{len(samples)}", flush=True)
    return {"probs": np.stack(probs), "labels": np.array(labels), "groups": np.array(groups),
            "views": np.array(names)}


def report(spec: str) -> None:
    """spec: one .npz, or several joined by '+' (the same images, other views)."""
    zs = [np.load(f) for f in spec.split("+")]
    views = [str(v) for z in zs for v in z["views"]]
    p = np.concatenate([z["probs"] for z in zs], axis=1)
    y, g = zs[0]["labels"], zs[0]["groups"]
    assert all((z["labels"] == y).all() and (z["groups"] == g).all() for z in zs)
    path = spec
    names = sorted(set(g))
    print(f"\n{path} ({len(y)} images)\n")
    print("| views | passes | all | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for cand, vs in CANDIDATES.items():
        if not set(vs) <= set(views):
            continue
        idx = [views.index(v) for v in vs]
        hit = p[:, idx].mean(1).argmax(1) == y
        cells = [f"{100 * hit[g == n].mean():.1f}" for n in names]
        print(f"| {cand} | {len(vs)} | {100 * hit.mean():.2f} | " + " | ".join(cells) + " |")
    print("\nsingle views: " + ", ".join(
        f"{v} {100 * (p[:, i].argmax(1) == y).mean():.1f}" for i, v in enumerate(views)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact", type=Path, nargs="?")
    ap.add_argument("--data", type=Path)
    ap.add_argument("--val-of", type=Path)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--views", default=",".join(list(VIEWS)[:10]))
    ap.add_argument("--report", nargs="+", help="npz files, or A.npz+B.npz to join views")
    a = ap.parse_args()
    if a.report:
        for f in a.report:
            report(f)
        return 0

    from fingerspell import Recognizer
    from fingerspell.schema import CLASSES
    from fingerspell_train.dataset import discover

    rec = Recognizer(a.artifact, threads=1, crop="none", pose="none")
    labels = list(rec.labels)
    if a.data:
        samples = discover(a.data)
        group_of = lambda s: re.match(r"[a-z]+\d+", Path(s.path).name).group(0)  # noqa: E731
    else:
        from fingerspell_train.split import run_validation

        samples, root_of = run_validation(a.val_of)
        group_of = lambda s: "/".join(Path(root_of[s.path]).parts[-2:])  # noqa: E731
    if a.limit:
        samples = random.Random(0).sample(samples, min(a.limit, len(samples)))
    # discover() labels index CLASSES; the artifact must list them in the same order.
    assert labels == list(CLASSES), labels
    np.savez_compressed(a.out, **record(rec, samples, group_of, a.views.split(",")))
    report(str(a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
