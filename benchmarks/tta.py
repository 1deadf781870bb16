"""Does mirror test-time augmentation pay? An artifact's accuracy on the image, its mirror, and both.

    python benchmarks/tta.py artifacts/fingerspell-vgg16-int8.onnx --data ../shared/data/dev/massey \
        --val-of runs/mix-v3e9

--data: labelled folders, scored whole. --val-of RUN: the run's own validation images (its roots
and split, from config.json), reported for whole-photo and hand-cropped roots apart. Use an
artifact without TTA inside (the mean is computed here). One thread, no hand crop.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def scores(rec, samples) -> dict[str, float]:
    y, plain, mirror = [], [], []
    for s in samples:
        px = rec.pixels(s.path)
        p = rec.probabilities(np.stack([px, px[:, ::-1]]))
        y.append(s.label)
        plain.append(p[0])
        mirror.append(p[1])
    y, a, b = np.array(y), np.array(plain), np.array(mirror)
    return {"n": len(y), "image": float((a.argmax(1) == y).mean()),
            "mirror": float((b.argmax(1) == y).mean()),
            "mean of both": float(((a + b).argmax(1) == y).mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--data", type=Path, action="append", default=[])
    ap.add_argument("--val-of", type=Path)
    a = ap.parse_args()

    from fingerspell import Recognizer
    from fingerspell_train.dataset import crop_of, discover
    from fingerspell_train.split import run_validation

    rec = Recognizer(a.artifact, threads=1, crop="none", pose="none")
    if rec.metadata.artifact.get("tta"):
        ap.error(f"{a.artifact} has TTA inside already ({rec.metadata.artifact['tta']})")
    rows = {str(d): scores(rec, discover(d)) for d in a.data}
    if a.val_of:
        val, root_of = run_validation(a.val_of)
        for framing in ("none", "hand"):
            part = [s for s in val if crop_of([root_of[s.path]]) == framing]
            if part:
                rows[f"{a.val_of.name} validation, {'whole' if framing == 'none' else 'hand crops'}"] \
                    = scores(rec, part)
    print("| set | images | image | mirror | mean of both |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['n']} | {100 * r['image']:.2f} % | {100 * r['mirror']:.2f} % | "
              f"{100 * r['mean of both']:.2f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
