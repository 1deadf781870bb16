"""Whole image or hand crop: score trained VGG runs on both framings of the same images.

    python benchmarks/framing.py runs/ship-b5w runs/hand-b5w \
        --pair ../shared/data/train/kaggle ~/.cache/fingerspell/handcrops/kaggle \
        --pair ../shared/data/train/multi ~/.cache/fingerspell/handcrops/multi \
        --eval ../shared/data/dev/massey ~/.cache/fingerspell/handcrops/massey

Each --pair is (whole-image root, its hand-cropped copy). The validation images are the run's own
split (block, or the run's held-out sources), taken from either root of each pair, so every cell
of the table scores the same images, framed two ways; each --eval folder is scored in both
framings too. Whole roots go through the feature cache (view 0), so once the runs exist this costs
minutes, not hours.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--pair", nargs=2, action="append", type=Path, required=True,
                    metavar=("WHOLE", "CROPPED"))
    ap.add_argument("--eval", nargs=2, action="append", type=Path, default=[],
                    metavar=("WHOLE", "CROPPED"),
                    help="a labelled folder (and its cropped copy) scored in both framings")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    import keras

    from fingerspell_train.backbone import find_hed_weights
    from fingerspell_train.dataset import discover
    from fingerspell_train.fit import Trainer, TrainOptions
    from fingerspell_train.presets import Preset
    from fingerspell_train.split import make_split

    table: dict[str, dict[str, float]] = {}
    for run in a.runs:
        config = json.loads((run / "config.json").read_text())
        preset = Preset(**config["preset"])
        split = config["split"]
        opts = TrainOptions(roots=[], out_dir=run, backbone_weights=str(find_hed_weights()),
                            progress=False)
        trainer = Trainer(preset, opts)
        trainer.full.set_weights(keras.models.load_model(run / "model.keras").get_weights())
        # The run's own split, over its own roots (whole, cropped, or both), exactly as it trained;
        # an image is then known in either framing by (root name, class/file name).
        own = [s for r in config["roots"] for s in discover(r)]
        sp = make_split(own, split["method"], split["val_fraction"], split["gap"],
                        split["holdout"], split["seed"])
        val = {_key(s.path) for s in sp.val}
        row: dict[str, float] = {}
        for framing, col in (("whole", 0), ("hand", 1)):
            per_root = [discover(pair[col]) for pair in a.pair]
            keep = np.array([_key(s.path) in val for r in per_root for s in r])
            row[f"val {framing}"] = _accuracy(trainer, per_root, keep)
            for pair in a.eval:
                row[f"{pair[0].name} {framing}"] = _accuracy(trainer, [discover(pair[col])])
        table[run.name] = row
        print(run.name, json.dumps({k: round(v, 4) for k, v in row.items()}), file=sys.stderr)
    cols = list(next(iter(table.values())))
    print("| run | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{100 * row[c]:.1f} %" for c in cols) + " |")
    if a.json:
        a.json.write_text(json.dumps(table, indent=1))
    return 0


def _key(path: Path) -> tuple[str, str, str]:
    return path.parent.parent.name, path.parent.name, path.stem


def _accuracy(trainer, root_samples, keep=None) -> float:
    from fingerspell_train.fit import predict_samples

    idx, pred = predict_samples(trainer, root_samples, keep)
    labels = np.array([s.label for r in root_samples for s in r])
    return float((pred == labels[idx]).mean())

if __name__ == "__main__":
    raise SystemExit(main())
