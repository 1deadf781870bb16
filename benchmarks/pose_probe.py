"""How much MediaPipe's hand pose (`tools/gpu/pose.py`'s 24 numbers) says about the letter, on
people it was not fitted to: the evidence for `finetune.py --pose-aux` as a teacher.

A k-nearest-neighbour vote on the standardised pose features alone, fitted on the pack's training
images, scored on its block-split validation images and on each named source held out whole (the
people of that source never among the neighbours). Only images where MediaPipe found a hand count,
on both sides. Numpy only:

    python benchmarks/pose_probe.py --pack .gpu --holdout seeeeeeel/Hand_sign_language \
        --holdout carbonara21/projectM7 --holdout Tutututu123ggg/Sign_language
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

NUM_CLASSES = 29


def knn_accuracy(feat: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                 k: int) -> float:
    mu, sd = feat[train].mean(0), feat[train].std(0) + 1e-6
    x, t = (feat[train] - mu) / sd, (feat[test] - mu) / sd
    y, want = labels[train], labels[test]
    right = 0
    for i in range(0, len(t), 512):
        d = ((t[i:i + 512, None, :] - x[None]) ** 2).sum(-1)
        near = np.argpartition(d, k, 1)[:, :k]
        votes = np.array([np.bincount(row, minlength=NUM_CLASSES).argmax() for row in y[near]])
        right += int((votes == want[i:i + 512]).sum())
    return right / len(t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True, help="folder with pack.npz and pose.npz")
    ap.add_argument("--holdout", action="append", default=[], help="a source to hold out whole")
    ap.add_argument("-k", type=int, default=15)
    a = ap.parse_args()
    pack, pose = np.load(a.pack / "pack.npz"), np.load(a.pack / "pose.npz")
    feat, ok = pose["feat"].astype(np.float32), pose["valid"].astype(bool)
    labels, source, is_val = pack["label"].astype(int), pack["source"], pack["is_val"]
    names = [str(s) for s in pack["sources"]]
    result = {"k": a.k, "with_hand": int(ok.sum()), "images": len(ok),
              "block_split_val": knn_accuracy(feat, labels, ~is_val & ok, is_val & ok, a.k)}
    for h in a.holdout:
        s = names.index(h)
        result[h] = knn_accuracy(feat, labels, ok & (source != s), ok & (source == s), a.k)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
