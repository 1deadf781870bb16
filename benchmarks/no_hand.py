"""What the shipped model says when there is no hand in the picture.

Three sets of hand-free scenes: Kaggle's own `nothing` frames (the only empty scenes in training),
patches of real training rooms cut beside the hand (`train/multi` photos, outside the box
MediaPipe found, `tools/handcrop_dataset.py`'s handcrop.json), and plain synthetic images
(one colour, a gradient, noise). For each: how often the answer is `nothing`, and how often the
answer is another class with a confidence at or above each `--threshold` the model card lists.

    python benchmarks/no_hand.py --kaggle ../shared/data/train/kaggle \
        --multi ../shared/data/train/multi --boxes ~/.cache/fingerspell/handcrops/multi/handcrop.json
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from fingerspell import Recognizer

THRESHOLDS = (0.5, 0.7, 0.9)
MIN_SIDE = 48  # pixels; smaller patches would be mostly upscaling blur


def beside_the_hand(image: Image.Image, box: list[int]) -> Image.Image | None:
    """The largest square of the photo that does not overlap the hand's box, if big enough."""
    w, h = image.size
    x0, y0, x1, y1 = box
    strips = [(0, 0, x0, h), (x1, 0, w, h), (0, 0, w, y0), (0, y1, w, h)]
    best = max(strips, key=lambda s: min(s[2] - s[0], s[3] - s[1]))
    side = min(best[2] - best[0], best[3] - best[1])
    if side < MIN_SIDE:
        return None
    cx, cy = (best[0] + best[2]) // 2, (best[1] + best[3]) // 2
    return image.crop((cx - side // 2, cy - side // 2, cx - side // 2 + side, cy - side // 2 + side))


def room_patches(multi: Path, boxes: Path, per_source: int, seed: int) -> list[np.ndarray]:
    found = json.loads(boxes.read_text())["boxes"]
    by_source: dict[str, list[str]] = {}
    for rel, box in found.items():
        if box:
            by_source.setdefault(Path(rel).name.split("__")[0], []).append(rel)
    rng = random.Random(seed)
    out = []
    for source in sorted(by_source):
        rels = by_source[source]
        rng.shuffle(rels)
        taken = 0
        for rel in rels:
            with Image.open(multi / rel) as im:
                patch = beside_the_hand(im.convert("RGB"), found[rel])
            if patch is not None:
                out.append(np.asarray(patch))
                taken += 1
            if taken == per_source:
                break
    return out


def synthetic(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:  # one colour
            img = np.broadcast_to(rng.integers(0, 256, 3), (150, 150, 3))
        elif kind == 1:  # a gradient between two colours
            t = np.linspace(0, 1, 150)[None, :, None]
            a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
            img = np.broadcast_to(a * (1 - t) + b * t, (150, 150, 3))
        else:  # noise
            img = rng.integers(0, 256, (150, 150, 3))
        out.append(np.ascontiguousarray(img, dtype=np.uint8))
    return out


def summarise(rec: Recognizer, images: list) -> dict:
    """`images`: anything `Recognizer.predict` reads (paths, arrays)."""
    preds = [rec.predict(im) for im in images]
    others = [p for p in preds if p.label != "nothing"]
    return {"images": len(preds),
            "nothing": round(sum(p.label == "nothing" for p in preds) / len(preds), 4),
            **{f"other_at_{t}": round(sum(p.confidence >= t for p in others) / len(preds), 4)
               for t in THRESHOLDS},
            "most_said": Counter(p.label for p in preds).most_common(4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="artifact (default: the bundled one)")
    ap.add_argument("--kaggle", type=Path, required=True, help="train/kaggle (its nothing/ frames)")
    ap.add_argument("--multi", type=Path, required=True)
    ap.add_argument("--boxes", type=Path, required=True, help="handcrop.json of the multi crops")
    ap.add_argument("--per-source", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0,
                    help="which photos the room patches come from (0: the set every figure used)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--pose", default="auto", help="auto, none or a pose head file")
    ap.add_argument("--crop", default="auto", help="auto, hand or none (none with --pose none: "
                                                     "the network alone on whole images)")
    args = ap.parse_args()

    rec = Recognizer(args.model, pose=args.pose, crop=args.crop)
    print(f"crop: {rec.crop}, pose head: {'yes' if rec.pose_head else 'no'}")
    sets = {"kaggle nothing frames (trained on)": sorted((args.kaggle / "nothing").glob("*.jpg")),
            "room patches beside the hand (train/multi)": room_patches(
                args.multi, args.boxes, args.per_source, seed=args.seed),
            "synthetic: colour, gradient, noise": synthetic(60, seed=0)}
    rows = {name: summarise(rec, images) for name, images in sets.items()}
    print(f"model: {rec}")
    print("| scene set | images | answered `nothing` | "
          + " | ".join(f"another class, confidence ≥ {t}" for t in THRESHOLDS) + " | said most |")
    print("|---|---|---|" + "---|" * len(THRESHOLDS) + "---|")
    for name, r in rows.items():
        cells = " | ".join(f"{100 * r[f'other_at_{t}']:.1f} %" for t in THRESHOLDS)
        said = ", ".join(f"{lab} {n}" for lab, n in r["most_said"])
        print(f"| {name} | {r['images']} | {100 * r['nothing']:.1f} % | {cells} | {said} |")
    if args.json:
        args.json.write_text(json.dumps({"model": str(rec), "sets": rows}, indent=1))


if __name__ == "__main__":
    main()
