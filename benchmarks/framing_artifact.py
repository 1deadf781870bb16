"""Whole image, hand crop, or both, for a shipped artifact: what `fingerspell[hands]` buys.

The runtime crops around the hand where MediaPipe is installed, the same square the training
crops used; `tools/handcrop_dataset.py`'s copies of a folder are those crops. This scores one
artifact on the pack's validation images (a GPU run's block split, both framings of the same
frames) and on dev folders: each image whole, cropped, the mean of the two framings'
probabilities, and the surer of the two (one artifact pass per framing, through the runtime):

    python benchmarks/framing_artifact.py --pack .gpu \
        --pair ../shared/data/train/multi ~/.cache/fingerspell/handcrops/multi \
        --pair ../shared/data/train/kaggle ~/.cache/fingerspell/handcrops/kaggle \
        --eval ../shared/data/dev/massey ~/.cache/fingerspell/handcrops/massey
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fingerspell import Recognizer
from fingerspell.benchmark import labelled


def probabilities(rec: Recognizer, files: list[Path]) -> np.ndarray:
    """[N, classes] in the artifact's label order; an unreadable image is all zeros (wrong)."""
    out = np.zeros((len(files), len(rec.labels)), np.float32)
    col = {name: i for i, name in enumerate(rec.labels)}
    for row, p in zip(out, rec.predict_many(files, top_k=len(rec.labels)), strict=True):
        if p.ok:
            for name, prob in p.top_k:
                row[col[name]] = prob
    return out


def framings(whole: np.ndarray, crop: np.ndarray) -> dict[str, np.ndarray]:
    """Each framing's top-1 index, and the two ways of combining them."""
    surer = np.where((crop.max(1) >= whole.max(1))[:, None], crop, whole)
    return {"whole": whole.argmax(1), "hand crop": crop.argmax(1),
            "mean of both": (whole + crop).argmax(1), "the surer of the two": surer.argmax(1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="artifact (default: the bundled one)")
    ap.add_argument("--pack", type=Path, required=True, help="tools/gpu/pack.py's folder")
    ap.add_argument("--pair", nargs=2, type=Path, action="append", default=[],
                    metavar=("WHOLE", "CROPS"), help="a training root and its hand-cropped copy")
    ap.add_argument("--eval", nargs=2, type=Path, action="append", default=[],
                    metavar=("WHOLE", "CROPS"), help="a dev folder and its hand-cropped copy")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    rec = Recognizer(args.model, crop="none", pose="none")  # the crops are already on disk
    pack = np.load(args.pack / "pack.npz")
    sets: dict[str, tuple[list[Path], list[Path], list[str]]] = {}
    for whole, crops in args.pair:
        whole, crops = whole.expanduser(), crops.expanduser()
        files = [Path(p) for p, v in zip(pack["paths"], pack["is_val"], strict=True)
                 if v and Path(p).is_relative_to(whole)]
        sets[f"validation {whole.name}"] = (files, [crops / f.relative_to(whole) for f in files],
                                            [f.parent.name for f in files])
    for whole, crops in args.eval:
        whole, crops = whole.expanduser(), crops.expanduser()
        items = labelled(whole)
        sets[whole.name] = ([f for f, _ in items], [crops / f.relative_to(whole) for f, _ in items],
                            [c for _, c in items])
    rows = {}
    for name, (files, crop_files, classes) in sets.items():
        want = np.array([rec.labels.index(c) for c in classes])
        picks = framings(probabilities(rec, files), probabilities(rec, crop_files))
        for mode, pred in picks.items():
            rows[f"{name}, {mode}"] = (len(files), float((pred == want).mean()))
    print(f"model: {rec}")
    print("| images, framing | n | accuracy |\n|---|---|---|")
    for key, (n, acc) in rows.items():
        print(f"| {key} | {n} | {100 * acc:.1f} % |")
    if args.json:
        args.json.write_text(json.dumps({k: {"n": n, "accuracy": a} for k, (n, a) in rows.items()},
                                        indent=1))


if __name__ == "__main__":
    main()
