"""How much to trust the network beside the pose head, measured on people neither has seen.

    python tools/fusion_fit.py --pack .gpu --probs runs/folds/probs_f1.npz \
        --probs runs/folds/probs_f2.npz --probs runs/folds/probs_f3.npz

Each `--probs` file is a held-out run's answers (`tools/gpu/finetune.py --holdout …` writes
`val_probs.npz`: the network trained without those sources, mirror averaged, at its last scored
epoch). For each, a pose head is fitted as `tools/pose_head.py` fits the shipped one but without
the same sources, so both halves of the fusion meet these people for the first time, as they meet
a user. The `[hands]` runtime multiplies the network's probabilities, raised to a power, by the
pose head's tempered ones; this grid-searches the power, the temperature and the uniform mix on
the held-out images with a hand and prints accuracy and log loss for each, the shipped setting and
the two halves alone beside them. Choose by log loss on the hand crops (what the network reads
with `[hands]`); `--json` keeps the table. `--mirror .gpu/pose-mirror.npz` (`tools/gpu/pose.py
--mirror`) adds the pose head read twice, on the image and on its mirror image, its logits
averaged where MediaPipe finds the hand in both: what a runtime reading the photo's mirror too
would get; each `--read-view FILE` (`tools/gpu/pose.py --turn DEG`) one more view averaged so (the
"image and mirror" rows then hold them all). `--train-views FILE` fits the fold heads on those
landmarks too, as `tools/pose_head.py --views FILE` fits the shipped one; `--turns`,
`--turn-degrees` and `--seeds` as there. `--views-below P` scores reading the other views only
where the image's own leaves the head below P (a head's `views_below`). Numpy only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pose_head import (
    MIXES,
    TEMPERATURES,
    extra_rows,
    features,
    fit_without,
    image_hands,
    view_features,
    view_hands,
)

from fingerspell.handpose import FEATURES_ID, FEATURES_THUMB, PoseHead, tempered

POWERS = (0.25, 0.35, 0.5, 0.65, 0.8, 1.0, 1.25)
SHIPPED_HEAD = Path(__file__).resolve().parents[1] / "artifacts" / "fingerspell-pose.json"


def fused(net: np.ndarray, pose: np.ndarray, power: float) -> np.ndarray:
    """The runtime's fusion with the network's probabilities raised to `power` first."""
    p = np.power(np.clip(net, 1e-12, 1.0), power) * pose
    return p / p.sum(1, keepdims=True)


def scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"acc": round(float((p.argmax(1) == y).mean()), 4),
            "log_loss": round(float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean()), 4)}


def held_out_rows(pack: dict, feat: np.ndarray, ok: np.ndarray, probs_files: list[Path],
                  hidden: int, epochs: int, read: list[tuple[np.ndarray, np.ndarray]] = (),
                  train_views: list[tuple[np.ndarray, np.ndarray]] = (), seeds: int = 1,
                  kind: str = FEATURES_ID) -> dict[str, np.ndarray]:
    """Every held-out image with a hand: the network's probabilities, the pose head's logits (a
    head fitted without the file's sources), label, source and whether it is a hand crop."""
    out: dict[str, list] = {k: [] for k in ("net", "z", "z2", "y", "source", "crop")}
    labels, source = pack["label"].astype(int), pack["source"]
    crop = np.array(["handcrops" in str(p) for p in pack["paths"]])
    for f in probs_files:
        got = np.load(f)
        index, net = got["index"], got["probs"].astype(np.float64)
        held = np.unique(source[index])
        train = ok & ~np.isin(source, held)
        # with views, as tools/pose_head.py --views: their rows train too, the epochs shared
        head = fit_without(feat, ok, labels, source, held, train_views, epochs=epochs,
                           hidden=hidden, seeds=seeds, features=kind)
        rows = ok[index]
        names = ", ".join(str(pack["sources"][s]) for s in held)
        print(f"{f.name}: {len(index)} held-out images ({names}), {int(rows.sum())} with a hand; "
              f"pose head fitted on {int(train.sum())}", file=sys.stderr)
        idx = index[rows]
        out["net"].append(net[rows])
        z = head.logits(feat[idx])
        out["z"].append(z)
        if read:  # the image's and each other view's logits averaged where MediaPipe found the hand
            total, count = z.copy(), np.ones(len(idx))
            for v_feat, v_ok in read:
                found = v_ok[idx]
                total[found] += head.logits(v_feat[idx[found]])
                count += found
            out["z2"].append(total / count[:, None])
        out["y"].append(labels[idx])
        out["source"].append(source[idx])
        out["crop"].append(crop[idx])
    return {k: np.concatenate(v) for k, v in out.items() if v}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True, help="folder with pack.npz and pose.npz")
    ap.add_argument("--probs", type=Path, action="append", required=True)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--mirror", type=Path, help="pose-mirror.npz: the pose head on the mirror too")
    ap.add_argument("--read-view", type=Path, action="append", default=[],
                    help="pose-turn<DEG>.npz (tools/gpu/pose.py --turn): read on this view too")
    ap.add_argument("--train-views", type=Path, action="append", default=[],
                    help="pose-views.npz, pose-mirror.npz or pose-turn<DEG>.npz: the fold heads "
                         "train on these too (repeatable)")
    ap.add_argument("--turns", type=int, default=0,
                    help="and on this many turned copies of the images' and views' landmarks")
    ap.add_argument("--turn-degrees", type=float, default=15.0)
    ap.add_argument("--seeds", type=int, default=1, help="MLPs averaged in each fold head")
    ap.add_argument("--thumb", action="store_true", help="as tools/pose_head.py --thumb")
    ap.add_argument("--views-below", type=float, action="append", default=[], metavar="P",
                    help="also score reading the other views only where the image's own leaves "
                         "the head below P (the shipped calibration; repeatable)")
    a = ap.parse_args()
    pack = dict(np.load(a.pack / "pack.npz"))
    kind = FEATURES_THUMB if a.thumb else FEATURES_ID
    hands = image_hands(a.pack, pack)
    feat, ok = features(*hands, kind), hands[2]
    read = [view_features(f, pack, kind)[0] for f in ([a.mirror] if a.mirror else []) + a.read_view]
    view_sets = [h for f in a.train_views for h in view_hands(f, pack)]
    train_views = extra_rows(hands, view_sets, a.turns, a.turn_degrees, kind)  # as pose_head.py
    r = held_out_rows(pack, feat, ok, a.probs, a.hidden, a.epochs, read, train_views, a.seeds,
                      kind)
    shipped_head = PoseHead.load(SHIPPED_HEAD)
    # the shipped calibration: the network as it is, the head's temperature and flat mix
    shipped = (1.0, shipped_head.temperature, shipped_head.uniform_mix)
    t_s, mix_s = shipped[1], shipped[2]
    table = []
    for subset, sel in (("crops", r["crop"]), ("whole photos", ~r["crop"])):
        y = r["y"][sel]
        row = {"subset": subset, "images": int(sel.sum()),
               "network alone": scores(r["net"][sel], y),
               "pose alone (shipped calibration)": scores(tempered(r["z"][sel], t_s, mix_s), y)}
        grid = {}
        for power in POWERS:
            for t in sorted({*TEMPERATURES, t_s}):
                for mix in sorted({*MIXES, mix_s}):
                    grid[(power, t, mix)] = scores(
                        fused(r["net"][sel], tempered(r["z"][sel], t, mix), power), y)
        best = min(grid, key=lambda k: grid[k]["log_loss"])
        best_acc = max(grid, key=lambda k: grid[k]["acc"])
        row[f"shipped fusion (power 1, T {t_s:g}, mix {mix_s:g})"] = grid[shipped]
        if "z2" in r:  # the shipped calibration with the head read on the mirror image too
            z2 = r["z2"][sel]
            row["pose alone, image and mirror"] = scores(tempered(z2, t_s, mix_s), y)
            row["shipped fusion, pose on image and mirror"] = scores(
                fused(r["net"][sel], tempered(z2, t_s, mix_s), 1.0), y)
            one = tempered(r["z"][sel], t_s, mix_s)
            for p in a.views_below:  # the runtime's views_below: a sure first view stands alone
                sure = one.max(1) >= p
                row[f"shipped fusion, other views only below {p:g}"] = {
                    **scores(fused(r["net"][sel], np.where(sure[:, None], one,
                                                           tempered(z2, t_s, mix_s)), 1.0), y),
                    "views_skipped": round(float(sure.mean()), 4)}
            row["pose on image and mirror, lowest log loss"] = min(
                ({"temperature": t, "mix": mix, **scores(fused(r["net"][sel], tempered(z2, t, mix), 1.0), y)}
                 for t in sorted({*TEMPERATURES, t_s}) for mix in sorted({*MIXES, mix_s})),
                key=lambda d: d["log_loss"])
        row["lowest log loss"] = {"power": best[0], "temperature": best[1], "mix": best[2],
                                  **grid[best]}
        row["highest accuracy"] = {"power": best_acc[0], "temperature": best_acc[1],
                                   "mix": best_acc[2], **grid[best_acc]}
        row["by power (T, mix of the lowest log loss)"] = {
            str(pw): grid[(pw, best[1], best[2])] for pw in POWERS}
        per_source = {}
        for s in np.unique(r["source"][sel]):
            m = r["source"][sel] == s
            per_source[str(pack["sources"][s])] = {
                "shipped": scores(fused(r["net"][sel][m], tempered(r["z"][sel][m], t_s, mix_s), 1.0),
                                  y[m])["acc"],
                "lowest log loss": scores(fused(r["net"][sel][m],
                                                tempered(r["z"][sel][m], best[1], best[2]), best[0]),
                                          y[m])["acc"],
                "network alone": scores(r["net"][sel][m], y[m])["acc"]}
        row["per source (accuracy)"] = per_source
        table.append(row)
    print(json.dumps(table, indent=1))
    if a.json:
        a.json.write_text(json.dumps(table, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
