"""Top-1 agreement of artifacts with a reference artifact (the fp32 ONNX) on real photos.

Issue 7 asks the quantized artifacts to agree with Keras on ≥ 99.5 % of real images; the fp32
ONNX equals Keras within 1e-4 (parity), so it stands in for it. The ship step measures this on
the dev set; this measures it also on the pack's block-split validation images (the training
people's held-out frames, whole photos and their hand crops), through the runtime, whole images:

    python benchmarks/agreement.py exports/gpu-l2k/fingerspell-vgg16-fp32.onnx \
        --model artifacts/fingerspell-vgg16-int8.onnx --model artifacts/fingerspell-vgg16-int8.tflite \
        --pack .gpu --eval ../shared/data/dev/massey --json runs/agreement-l2k.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell import Recognizer
from fingerspell.benchmark import labelled
from fingerspell_export.ship import cross_agreement, top1_and_margins


def answers(rec: Recognizer, files: list[Path]) -> dict[str, list]:
    """Each photo's top-1 label and top-2 margin, as the ship step keeps them."""
    return top1_and_margins(list(rec.predict_many(files, top_k=2, batch_size=16)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", type=Path, help="the artifact the others should agree with")
    ap.add_argument("--model", type=Path, action="append", required=True)
    ap.add_argument("--pack", type=Path, help="tools/gpu/pack.py's folder: its validation images")
    ap.add_argument("--eval", type=Path, action="append", default=[], help="a folder per class")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    sets: dict[str, list[Path]] = {}
    if args.pack:
        pack = np.load(args.pack / "pack.npz")
        sets["validation (block split)"] = [Path(p) for p, v in zip(pack["paths"], pack["is_val"],
                                                                    strict=True) if v]
    for folder in args.eval:
        sets[folder.name] = [f for f, _ in labelled(folder)]
    # crops of the pack are files of their own: no second crop
    ref = Recognizer(args.reference, crop="none", pose="none")
    recs = [Recognizer(m, crop="none", pose="none") for m in args.model]
    rows: dict[str, dict[str, Any]] = {}
    print("| artifact | images | agreement with the reference | where its margin ≥ 0.1 |"
          "\n|---|---|---|---|")
    for name, files in sets.items():
        want = answers(ref, files)
        for model, rec in zip(args.model, recs, strict=True):
            a = cross_agreement(want, answers(rec, files))
            rows[f"{model.name} on {name}"] = a
            print(f"| {model.name} | {name} ({a['n']:,}) | {100 * a['agreement']:.2f} % | "
                  f"{100 * a['clear_agreement']:.2f} % of {100 * a['clear_fraction']:.1f} % |",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"reference": str(args.reference), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
