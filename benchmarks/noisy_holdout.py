"""Noisy or grey photos of people held out of training: how often the hand is found, and how often
the pose head alone then reads it right, with and without one of the hand finder's looks (`--look`:
the blurred copy, or the skin-toned copy of a grey photo).

    python benchmarks/noisy_holdout.py --pack .gpu --multi ../shared/data/train/multi \
        --probs runs/folds/probs_f1.npz --probs runs/folds/probs_f2.npz --probs runs/folds/probs_f3.npz \
        --sigma 12 --photos 2000 --json runs/noisy-holdout-12.json
    python benchmarks/noisy_holdout.py … --sigma 0 --grey --look tint --json runs/grey-holdout.json

The folds' held-out whole photos (`benchmarks/installed_holdout.py` has the folds), a sample of
`--photos` drawn with `--seed`, each with Gaussian noise of `--sigma` grey levels added as
`benchmarks/conditions.py` adds it (after turning it grey with `--grey`). The runtime's looks at
each (`HandCropper.look`, then the other views the head asks for) once as installed and once as
if the `--look` copy never kept a hand (the other views then searched as they are); fold pose
heads fitted as the shipped one without the fold's sources read the views found. The fold
networks' answers are for the clean crops, so the network is left out: a photo with no hand found
counts as wrong.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from installed_holdout import SHIPPED_HEAD, fold_head, multi_roots
from pose_head import image_features, view_features

from fingerspell.handcrop import HandCropper, other_looks
from fingerspell.handpose import PoseHead


def noisy(img: Image.Image, sigma: float) -> Image.Image:
    """The photo with sensor noise, the same every run (seeded by its pixels)."""
    if sigma == 0:
        return img
    rng = np.random.default_rng(zlib.crc32(img.tobytes()))
    a = np.asarray(img, np.float64) + rng.normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(a, 0, 255).round().astype(np.uint8))


def pose_answer(head: PoseHead, views: list[Any]) -> int | None:
    """The pose head's letter for the views found, as Recognizer picks them; None with no hand."""
    first = views[0]
    if first is not None and not head.wants_more_views(head.numbers(first.world, first.right)):
        seen = [first]
    else:
        seen = [v for v in views if v is not None]
    if not seen:
        return None
    numbers = np.stack([head.numbers(v.world, v.right) for v in seen])
    return int(np.argmax(head.probabilities_of_views(numbers)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True)
    ap.add_argument("--multi", type=Path, required=True)
    ap.add_argument("--probs", type=Path, action="append", required=True,
                    help="a fold's val_probs.npz (only its index of held-out images is used)")
    ap.add_argument("--sigma", type=float, default=12.0)
    ap.add_argument("--grey", action="store_true", help="black-and-white photos (before the noise)")
    ap.add_argument("--look", default="smooth", choices=["bright", "smooth", "tint"],
                    help="the finder's copy measured (handcrop.COPIES)")
    ap.add_argument("--photos", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    shipped = PoseHead.load(SHIPPED_HEAD)
    pack = dict(np.load(a.pack / "pack.npz"))
    feat, ok = image_features(a.pack, pack)
    mirror = view_features(a.pack / "pose-mirror.npz", pack)
    source, label, paths = pack["source"], pack["label"].astype(int), pack["paths"]
    whole, _ = multi_roots(paths)
    if whole is None:
        raise SystemExit(f"{a.pack}: the pack holds no train/multi photos")
    items, heads = [], []
    for k, f in enumerate(a.probs):
        index = np.load(f)["index"]
        heads.append(fold_head(feat, ok, label, source, np.unique(source[index]), mirror, shipped))
        items += [(k, int(i), str(paths[i])[len(whole):]) for i in index if str(paths[i]).startswith(whole)]
    random.Random(a.seed).shuffle(items)
    items = items[:a.photos]
    hands = HandCropper()

    def looks(item: tuple[int, int, str]) -> tuple[list[Any], list[Any]]:
        """(views as installed, views without the --look copy)"""
        fold, _, rel = item
        with Image.open(a.multi / rel) as im:
            img = im.convert("L").convert("RGB") if a.grey else im.convert("RGB")
            img = noisy(img, a.sigma)
        first = hands.look(img)
        views = [first, *other_looks(hands, img, first, heads[fold])]
        if first is None or first.copy != a.look:
            return views, views  # the look measured was never what found it
        return views, [None, *other_looks(hands, img, None, heads[fold])]

    with ThreadPoolExecutor(2) as pool:
        found = list(pool.map(looks, items))
    report: dict[str, Any] = {"sigma": a.sigma, "grey": a.grey, "look": a.look, "photos": len(items),
                              "seed": a.seed}
    per_source: dict[str, dict[str, int]] = {}
    for way, which in (("as installed", 0), (f"without the {a.look} look", 1)):
        hand = right = 0
        for (fold, i, _), views in zip(items, found, strict=True):
            got = pose_answer(heads[fold], views[which])
            hand += got is not None
            right += int(got == label[i])
            s = per_source.setdefault(str(pack["sources"][source[i]]).split("/")[0], {})
            s[way] = s.get(way, 0) + int(got == label[i])
            s["photos"] = s.get("photos", 0) + (which == 0)
        report[way] = {"hand found": round(hand / len(items), 4),
                       "pose alone right": round(right / len(items), 4)}
        print(f"{way:24s} hand found {100 * hand / len(items):5.1f} %  pose alone right "
              f"{100 * right / len(items):5.1f} %", flush=True)
    report["per_source"] = per_source
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
