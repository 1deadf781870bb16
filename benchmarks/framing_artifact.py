"""Whole image or hand crop, for a shipped artifact: what `fingerspell[hands]` buys.

The runtime crops around the hand where MediaPipe is installed, the same square the training
crops used; `tools/handcrop_dataset.py`'s copies of a folder are those crops. This scores one
artifact on the pack's validation images (a GPU run's block split, both framings of the same
frames) and on dev folders, whole and cropped, through the runtime:

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
from fingerspell.benchmark import accuracy_on, labelled


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

    rec = Recognizer(args.model, crop="none")  # the crops are already on disk
    pack = np.load(args.pack / "pack.npz")
    rows = {}
    for whole, crops in args.pair:
        for name, root in (("whole", whole), ("hand crop", crops)):
            items = [(Path(p), Path(p).parent.name) for p, v in zip(pack["paths"], pack["is_val"],
                                                                    strict=True)
                     if v and Path(p).is_relative_to(root.expanduser())]
            rows[f"validation {whole.name}, {name}"] = (len(items), accuracy_on(rec, items))
    for whole, crops in args.eval:
        for name, root in (("whole", whole), ("hand crop", crops)):
            items = labelled(root)
            rows[f"{whole.name}, {name}"] = (len(items), accuracy_on(rec, items))
    print(f"model: {rec}")
    print("| images, framing | n | accuracy |\n|---|---|---|")
    for key, (n, acc) in rows.items():
        print(f"| {key} | {n} | {100 * acc:.1f} % |")
    if args.json:
        args.json.write_text(json.dumps({k: {"n": n, "accuracy": a} for k, (n, a) in rows.items()},
                                        indent=1))


if __name__ == "__main__":
    main()
