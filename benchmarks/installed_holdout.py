"""Whole photos of people-and-rooms held out of training, read the way the runtime reads them.

    python benchmarks/installed_holdout.py --pack .gpu --multi ../shared/data/train/multi \
        --probs runs/folds/probs_f1.npz --probs runs/folds/probs_f2.npz --probs runs/folds/probs_f3.npz \
        --looks runs/looks-multi.pkl

The shipped network trained on all nine `train/multi` sources, so it cannot say how it reads a
stranger's photo of a hand in a room; the folds can (`tools/fusion_fit.py`: three networks each
trained without three sources, `val_probs.npz`). For each held-out whole photo this does what
`Recognizer.predict` does: the runtime's hand finder (`HandCropper.look`, its second, brighter
and blurred looks included) on the photo, and on its other views where the pose head asks for them; a pose
head fitted as the shipped one but without the fold's sources, with the shipped head's calibration
and views; the network's answer for the hand crop (the pack's crop of that photo) fused with it;
the network alone on the whole photo where no view finds a hand (its `nothing` weighted
by the head's `no_hand_nothing`), and on the whole photo too where
the head's `whole_below` asks for it. Where the finder finds a hand in
a photo the pack holds no crop of (MediaPipe missed it when the pack was made), the network's
whole-photo answer stands in for the crop's: an underestimate, counted in the output.

`--looks FILE` keeps the finder's looks (10,582 photos x 3 views, about 8 minutes on two cores)
and reuses them when the file exists. `--no-bright` also scores the runtime without its brighter
look (hands found only in the brightened copy dropped). Numpy, Pillow and the runtime only.
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pose_head import fit_without, image_features, view_features

from fingerspell.handpose import PoseHead, fuse

SHIPPED_HEAD = Path(__file__).resolve().parents[1] / "artifacts" / "fingerspell-pose.json"
# one view's hand: (crop box, world landmarks, handedness, found only brightened)
View = tuple[tuple[int, int, int, int], list, bool, bool] | None


def runtime_looks(multi: Path, head: PoseHead) -> dict[str, list[View]]:
    """Every view the head can ask for, of every photo, as the runtime looks at them."""
    from PIL import Image

    from fingerspell.handcrop import HandCropper, other_looks

    hands = HandCropper()
    with open(multi / "MANIFEST.csv", newline="") as manifest:
        rows = list(csv.DictReader(manifest))

    def one(rel: str) -> tuple[str, list[View]]:
        with Image.open(multi / rel) as im:
            img = im.convert("RGB")
        first = hands.look(img)
        views = [first, *other_looks(hands, img, first, head)]  # as Recognizer looks
        return rel, [None if v is None else (v.box, v.world, v.right, v.bright) for v in views]

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, [r["path"] for r in rows]))


def fold_head(feat: np.ndarray, ok: np.ndarray, label: np.ndarray, source: np.ndarray,
              held: np.ndarray, mirror: list, shipped: PoseHead) -> PoseHead:
    """A pose head fitted as the shipped one without the `held` sources (images and mirror
    images), given the shipped head's calibration, views and whole-photo reading."""
    head = fit_without(feat, ok, label, source, held, mirror)
    for name in ("temperature", "uniform_mix", "mirror", "turns", "pads", "views_below",
                 "whole_below", "whole_sure", "no_hand_nothing"):
        setattr(head, name, getattr(shipped, name))
    return head


def multi_roots(paths: np.ndarray) -> tuple[str | None, str | None]:
    """The prefixes under which the pack names train/multi's whole photos and their hand crops
    (the paths it was made from)."""
    roots = {str(p).rsplit("/", 2)[0] + "/" for p in paths if "/multi/" in str(p)}
    return (next((r for r in roots if "handcrops" not in r), None),
            next((r for r in roots if "handcrops" in r), None))


def read(head: PoseHead, views: list[View], whole: np.ndarray, crop: np.ndarray | None
         ) -> tuple[np.ndarray, bool]:
    """Recognizer's answer: (probabilities, a hand found)."""
    first = views[0]
    if first is not None and not head.wants_more_views(head.numbers(first[1], first[2])):
        seen = [first]
    else:
        seen = [v for v in views if v is not None]
    if not seen:
        return head.no_hand(whole), False
    numbers = np.stack([head.numbers(v[1], v[2]) for v in seen])
    fused = fuse(crop if crop is not None else whole, head.probabilities_of_views(numbers))
    if crop is not None and head.reads_whole(fused):  # the network reads the whole photo too
        fused = head.settled(fused, whole)
    return fused, True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True, help="folder with pack.npz and pose.npz")
    ap.add_argument("--multi", type=Path, required=True, help="train/multi (its MANIFEST.csv)")
    ap.add_argument("--probs", type=Path, action="append", required=True)
    ap.add_argument("--mirror", type=Path, help="pose-mirror.npz: the fold heads train on it too, "
                                                "as the shipped head did (default: PACK/pose-mirror.npz)")
    ap.add_argument("--looks", type=Path, help="keep / reuse the finder's looks here")
    ap.add_argument("--no-bright", action="store_true", help="also score without the brighter look")
    ap.add_argument("--head", type=Path, default=SHIPPED_HEAD,
                    help="the pose head whose calibration, views and whole-photo reading the fold "
                         "heads take (default: the shipped one)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    shipped = PoseHead.load(a.head)
    if a.looks and a.looks.is_file():
        looks = pickle.loads(a.looks.read_bytes())
    else:
        looks = runtime_looks(a.multi, shipped)
        if a.looks:
            a.looks.write_bytes(pickle.dumps(looks))
    pack = dict(np.load(a.pack / "pack.npz"))
    feat, ok = image_features(a.pack, pack)
    mirror = view_features(a.mirror or a.pack / "pose-mirror.npz", pack)
    source, label, paths = pack["source"], pack["label"].astype(int), pack["paths"]
    where = {str(p): i for i, p in enumerate(paths)}
    whole_prefix, crop_prefix = multi_roots(paths)
    if whole_prefix is None:
        raise SystemExit(f"{a.pack}: the pack holds no train/multi photos")
    ways = {"as installed": False, **({"without the brighter look": True} if a.no_bright else {})}
    counts: dict[str, dict[str, int]] = {}
    for f in a.probs:
        got = np.load(f)
        index, net = got["index"], got["probs"].astype(np.float64)
        row = {int(i): k for k, i in enumerate(index)}
        head = fold_head(feat, ok, label, source, np.unique(source[index]), mirror, shipped)
        for i in index:
            path = str(paths[i])
            if not path.startswith(whole_prefix):
                continue
            rel = path[len(whole_prefix):]
            c = counts.setdefault(str(pack["sources"][source[i]]), {"photos": 0, "network alone": 0})
            c["photos"] += 1
            whole = net[row[int(i)]]
            c["network alone"] += int(whole.argmax() == label[i])
            k = where.get(f"{crop_prefix}{rel}") if crop_prefix else None
            crop = net[row[k]] if k is not None and k in row else None
            for way, drop_bright in ways.items():
                views: list[Any] = [None if v is None or (drop_bright and v[3]) else v
                                    for v in looks[rel]]
                probs, found = read(head, views, whole, crop)
                c[way] = c.get(way, 0) + int(probs.argmax() == label[i])
                c[f"{way}: hand found"] = c.get(f"{way}: hand found", 0) + int(found)
                if way == "as installed":
                    c["hand found, no pack crop"] = c.get("hand found, no pack crop", 0) + int(
                        found and crop is None)
    if not counts:
        raise SystemExit("the --probs files hold none of the pack's train/multi photos")
    total = {k: sum(c.get(k, 0) for c in counts.values()) for k in next(iter(counts.values()))}
    counts["all"] = total
    cols = ["network alone", *ways, *(f"{w}: hand found" for w in ways)]
    print("| held-out source | whole photos | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for s, c in counts.items():
        cells = " | ".join(f"{100 * c[k] / c['photos']:.1f} %" for k in cols)
        print(f"| {s.split('/')[0]} | {c['photos']} | {cells} |")
    print(f"hands found where the pack has no crop (network on the whole photo used): "
          f"{total['hand found, no pack crop']}")
    if a.json:
        a.json.write_text(json.dumps(counts, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
