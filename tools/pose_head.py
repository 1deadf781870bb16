"""Fit the pose head (`artifacts/fingerspell-pose.json`): a small MLP on MediaPipe's hand pose.

    python tools/pose_head.py --pack .gpu --out artifacts/fingerspell-pose.json   # as shipped
    python tools/pose_head.py --pack .gpu --views .gpu/pose-views.npz --out head.json
    python tools/pose_head.py --recalibrate artifacts/fingerspell-pose.json --temperature 1.5 \
        --mix 0.02 --mirror --out artifacts/fingerspell-pose.json   # the shipped calibration

Reads the pack (`tools/gpu/pack.py`) and its pose numbers (`tools/gpu/pose.py`, the `[hands]`
venv). Fits on the block split's training images where a hand was found, so the validation
images stay unseen, and on the landmarks of altered views of them (`tools/gpu/pose.py --views`)
where given; the epochs are divided among the copies so that the steps stay as many. Its
calibration (a temperature and a share of a flat distribution mixed in) is chosen where it
matters, on people never seen: leave one pack source out, fit on the rest, and keep the pair with
the lowest log loss over all held-out images. Numpy only, about 25 s (40 s with 4 views).
`--recalibrate HEAD` fits nothing: it writes HEAD with another temperature, flat mix,
views and whole-photo reading (`--whole-below`), chosen elsewhere (`tools/fusion_fit.py`:
with the network, on held-out folds).
Options tried and not shipped (docs/pose-head.md): `--thumb` (the numbers `handpose-62/2`, where
the thumb lies on the palm), `--turns K --turn-degrees D` (K turned copies of every set of
landmarks), `--seeds N` (N MLPs averaged, stored as one); `--seed` moves the first MLP's seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))
from pose import pack_key, stored_key

from fingerspell.adapt import adam_step, mlp_gradients
from fingerspell.handpose import (
    FEATURE_WIDTHS,
    FEATURES_ID,
    FEATURES_THUMB,
    WHOLE_SURE,
    PoseHead,
    hand_features,
    tempered,
)
from fingerspell.schema import CLASSES

TEMPERATURES = (1.0, 1.5, 2.0, 3.0)
MIXES = (0.0, 0.02, 0.05, 0.1, 0.2)


def fit_mlp(x: np.ndarray, y: np.ndarray, classes: int, hidden: int = 128, epochs: int = 60,
            weight_decay: float = 1e-3, lr: float = 3e-3, batch: int = 512, seed: int = 0
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """One hidden ReLU layer, softmax cross-entropy, Adam with L2 on the weights."""
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    params = [rng.normal(0, np.sqrt(2 / d), (d, hidden)), np.zeros(hidden),
              rng.normal(0, np.sqrt(1 / hidden), (hidden, classes)), np.zeros(classes)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    onehot = np.eye(classes)[y]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            b = order[s:s + batch]
            grads = mlp_gradients(params, x[b], onehot[b])
            grads[0] = grads[0] + weight_decay * params[0]  # L2 on the weights, not the biases
            grads[2] = grads[2] + weight_decay * params[2]
            step += 1
            adam_step(params, grads, m, v, step, lr)
    return [(params[0], params[1]), (params[2], params[3])]


def fit_head(feat: np.ndarray, y: np.ndarray, seeds: int = 1, features: str = FEATURES_ID,
             seed: int = 0, **kw: Any) -> PoseHead:
    """`seeds` MLPs on the same standardised numbers, their logits averaged: stored as one MLP
    (hidden units side by side, output weights divided by `seeds`), which the runtime reads as is."""
    mean, scale = feat.mean(0), feat.std(0) + 1e-6
    nets = [fit_mlp((feat - mean) / scale, y, len(CLASSES), seed=seed + s, **kw) for s in range(seeds)]
    layers = [(np.concatenate([n[0][0] for n in nets], axis=1), np.concatenate([n[0][1] for n in nets])),
              (np.concatenate([n[1][0] for n in nets]) / seeds, np.mean([n[1][1] for n in nets], axis=0))]
    return PoseHead(labels=list(CLASSES), mean=mean, scale=scale, layers=layers, features=features)



def fit_without(feat: np.ndarray, ok: np.ndarray, labels: np.ndarray, source: np.ndarray,
                held: np.ndarray, views: Sequence[tuple[np.ndarray, np.ndarray]] = (),
                epochs: int = 60, **kw: Any) -> PoseHead:
    """A head fitted as the shipped one but without the `held` sources: on the images with a hand
    and each view's rows (`extra_rows`), the epochs shared among the copies (a fold's head)."""
    x, y = [], []
    for v_feat, v_ok in [(feat, ok), *views]:
        keep = v_ok & ~np.isin(source, held)
        x.append(v_feat[keep])
        y.append(labels[keep])
    return fit_head(np.concatenate(x), np.concatenate(y), epochs=shared_epochs(epochs, len(x)), **kw)

# one hand's landmarks in a set of images: (world [N, 21, 3], right [N], hand found [N])
Hands = tuple[np.ndarray, np.ndarray, np.ndarray]


def features(world: np.ndarray, right: np.ndarray, ok: np.ndarray, kind: str = FEATURES_ID
             ) -> np.ndarray:
    """The head's numbers for each image with a hand (zeros elsewhere)."""
    feat = np.zeros((len(ok), FEATURE_WIDTHS[kind]))
    world, right = np.asarray(world), np.asarray(right)  # an npz member decompresses at each access
    for i in np.flatnonzero(ok):
        feat[i] = hand_features(world[i], bool(right[i]), kind)
    return feat


def turned(hands: Hands, copies: int, degrees: float, seed: int = 0) -> list[Hands]:
    """`copies` of the landmarks, each hand turned by its own random angle (up to `degrees`)
    about each axis: other people hold their hands at other angles to the camera, which moves
    the directions in the numbers (the shape numbers do not change)."""
    world, right, ok = hands
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(copies):
        a = np.deg2rad(rng.uniform(-degrees, degrees, (len(ok), 3)))
        c, s = np.cos(a), np.sin(a)
        one, zero = np.ones(len(ok)), np.zeros(len(ok))
        rx = np.stack([one, zero, zero, zero, c[:, 0], -s[:, 0], zero, s[:, 0], c[:, 0]], 1)
        ry = np.stack([c[:, 1], zero, s[:, 1], zero, one, zero, -s[:, 1], zero, c[:, 1]], 1)
        rz = np.stack([c[:, 2], -s[:, 2], zero, s[:, 2], c[:, 2], zero, zero, zero, one], 1)
        rot = rx.reshape(-1, 3, 3) @ ry.reshape(-1, 3, 3) @ rz.reshape(-1, 3, 3)
        out.append((np.asarray(world, np.float64) @ rot.transpose(0, 2, 1), right, ok))
    return out


def image_hands(pack_dir: Path, pack: Any) -> Hands:
    """Each pack image's landmarks, from its `pose.npz`."""
    pose = np.load(pack_dir / "pose.npz")
    if stored_key(pose) != pack_key(pack):
        raise SystemExit(f"{pack_dir / 'pose.npz'} was not made from this pack: rerun tools/gpu/pose.py")
    if "world" not in pose.files:
        raise SystemExit(f"{pack_dir / 'pose.npz'} has no landmarks: rerun tools/gpu/pose.py --force")
    return np.asarray(pose["world"]), np.asarray(pose["right"]), pose["valid"].astype(bool)


def view_hands(path: Path, pack: Any) -> list[Hands]:
    """The landmarks of each view stored in a `pose-views.npz` or `pose-mirror.npz`
    (`tools/gpu/pose.py --views N` / `--mirror`) made from this pack."""
    views = np.load(path)
    if stored_key(views) != pack_key(pack):
        raise SystemExit(f"{path} was not made from this pack: rerun tools/gpu/pose.py --views/--mirror")
    return [(np.asarray(w), np.asarray(r), v.astype(bool))
            for w, r, v in zip(views["world"], views["right"], views["valid"], strict=True)]


def image_features(pack_dir: Path, pack: Any, kind: str = FEATURES_ID) -> tuple[np.ndarray, np.ndarray]:
    """(the head's numbers, hand found) for each pack image, from its `pose.npz`."""
    hands = image_hands(pack_dir, pack)
    return features(*hands, kind), hands[2]


def view_features(path: Path, pack: Any, kind: str = FEATURES_ID) -> list[tuple[np.ndarray, np.ndarray]]:
    """(the head's numbers, hand found) for each view in a `pose-views.npz` or `pose-mirror.npz`."""
    return [(features(*h, kind), h[2]) for h in view_hands(path, pack)]


def extra_rows(image: Hands, views: list[Hands], turns: int, degrees: float,
               kind: str = FEATURES_ID) -> list[tuple[np.ndarray, np.ndarray]]:
    """The training rows beside the images' own, as (numbers, hand found): each view's, then
    `turns` turned copies (`turned`) of the images' landmarks and of each view's."""
    return [(features(*h, kind), h[2]) for h in views] + [
        (features(*t, kind), t[2]) for i, h in enumerate([image, *views])
        for t in turned(h, turns, degrees, seed=i)]


def shared_epochs(epochs: int, copies: int) -> int:
    """With views, the epochs are shared among the copies (as many steps), but never under 10."""
    return epochs if copies == 1 else max(10, epochs // copies)


def recalibrate(a: argparse.Namespace) -> int:
    """HEAD with the calibration given (the weights untouched), written to --out."""
    if a.temperature is None or a.mix is None:
        raise SystemExit("--recalibrate needs --temperature and --mix")
    head = PoseHead.load(a.recalibrate)
    head.temperature, head.uniform_mix, head.mirror = a.temperature, a.mix, a.mirror
    head.turns, head.pads, head.views_below = list(a.read_turns), list(a.read_pads), a.views_below
    head.whole_below, head.whole_sure = a.whole_below, a.whole_sure
    head.no_hand_nothing = a.no_hand_nothing
    head.training["calibration"] = (
        f"temperature {a.temperature:g}, flat mix {a.mix:g}"
        + (f", read on {head.views()}; the views' scores averaged" if head.extra_looks else "")
        + ": chosen with the network on held-out folds (tools/fusion_fit.py)"
        + (f"; {head.whole_text()} (chosen on the validation whole photos and the folds' "
           "held-out whole photos: benchmarks/val_photos.py, benchmarks/installed_holdout.py)"
           if head.whole_below is not None else "")
        + (f"; {head.no_hand_text()} (chosen on room patches and the folds' held-out whole "
           "photos with no hand found: benchmarks/no_hand.py, benchmarks/installed_holdout.py)"
           if head.weighs_nothing else ""))
    head.training["calibration_command"] = "python tools/pose_head.py " + " ".join(sys.argv[1:])
    PoseHead.from_dict(head.to_dict())  # the runtime's own checks, before anything is written
    head.save(a.out)
    print(json.dumps({"temperature": a.temperature, "uniform_mix": a.mix, "mirror": a.mirror,
                      "turns": head.turns, "pads": head.pads, "views_below": head.views_below,
                      "whole_below": head.whole_below, "whole_sure": head.whole_sure,
                      "no_hand_nothing": head.no_hand_nothing, "out": str(a.out)}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, help="folder with pack.npz and pose.npz")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--views", type=Path, action="append", default=[],
                    help="pose-views.npz, pose-mirror.npz or pose-turn<DEG>.npz: landmarks of other "
                         "views to train on too (repeatable)")
    ap.add_argument("--turns", type=int, default=0,
                    help="train on this many turned copies of each set of landmarks too (`turned`)")
    ap.add_argument("--turn-degrees", type=float, default=15.0, help="the largest turn about each axis")
    ap.add_argument("--seeds", type=int, default=1, help="MLPs fitted and averaged (stored as one)")
    ap.add_argument("--seed", type=int, default=0,
                    help="the first MLP's seed (the shipped head: 0); to measure how much a refit moves")
    ap.add_argument("--thumb", action="store_true",
                    help="the head reads where the thumb lies on the palm too (handpose-62/2)")
    ap.add_argument("--recalibrate", type=Path, metavar="HEAD",
                    help="rewrite HEAD's calibration and views (--temperature, --mix, --mirror, "
                         "--read-turns, --read-pads, --views-below, --whole-below, --no-hand-nothing); no "
                         "fitting")
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--mix", type=float)
    ap.add_argument("--mirror", action="store_true", help="the runtime reads the mirror image too")
    ap.add_argument("--read-turns", type=float, nargs="*", default=[], metavar="DEG",
                    help="with --recalibrate: the runtime reads the photo turned by these too")
    ap.add_argument("--read-pads", type=float, nargs="*", default=[], metavar="SHARE",
                    help="with --recalibrate: the runtime reads the photo with this share of each "
                         "side added too")
    ap.add_argument("--views-below", type=float, metavar="P",
                    help="with --recalibrate: the other views only where the photo's own leaves "
                         "the head below probability P (default: always)")
    ap.add_argument("--whole-below", type=float, metavar="P",
                    help="with --recalibrate: where the fused answer stays below P, the network "
                         "reads the whole photo too (default: never)")
    ap.add_argument("--whole-sure", type=float, default=WHOLE_SURE, metavar="Q",
                    help="with --whole-below: the whole photo's answer stands where at least Q sure")
    ap.add_argument("--no-hand-nothing", type=float, default=1.0, metavar="F",
                    help="with --recalibrate: where no hand is found, the network's `nothing` "
                         "counts F times (default 1: the network alone)")
    a = ap.parse_args()
    if a.recalibrate:
        return recalibrate(a)
    if a.pack is None:
        ap.error("--pack is required (or --recalibrate)")
    t0 = time.time()
    pack = np.load(a.pack / "pack.npz")
    kind = FEATURES_THUMB if a.thumb else FEATURES_ID
    hands = [image_hands(a.pack, pack), *(h for f in a.views for h in view_hands(f, pack))]
    feat, ok = features(*hands[0], kind), hands[0][2]
    labels, source, is_val = pack["label"].astype(int), pack["source"], pack["is_val"]
    names = [str(s) for s in pack["sources"]]
    # training rows: the images, each altered view of them, then turned copies of all of these
    # (same labels, sources, split)
    rows = [(feat, ok), *extra_rows(hands[0], hands[1:], a.turns, a.turn_degrees, kind)]
    copies = len(rows)
    x_all, ok_all = np.concatenate([f for f, _ in rows]), np.concatenate([o for _, o in rows])
    y_all, src_all, val_all = (np.tile(v, copies) for v in (labels, source, is_val))
    kw = {"hidden": a.hidden, "epochs": shared_epochs(a.epochs, copies), "seeds": a.seeds,
          "features": kind, "seed": a.seed}

    # people never seen: each source held out in turn
    held_z, held_y, per_source = [], [], {}
    for s, name in enumerate(names):
        train, test = ok_all & (src_all != s), ok & (source == s)
        if not test.any():
            continue
        z = fit_head(x_all[train], y_all[train], **kw).logits(feat[test])
        held_z.append(z)
        held_y.append(labels[test])
        per_source[name] = round(float((z.argmax(1) == labels[test]).mean()), 4)
        print(f"held out {name}: pose alone {per_source[name]:.3f}", file=sys.stderr)
    z, y = np.concatenate(held_z), np.concatenate(held_y)
    # the calibration as the runtime applies it (PoseHead.probabilities), on the held-out scores
    losses = {(t, mix): float(-np.log(tempered(z, t, mix)[np.arange(len(y)), y] + 1e-12).mean())
              for t in TEMPERATURES for mix in MIXES}
    temperature, mix = min(losses, key=losses.get)

    train = ok_all & ~val_all
    head = fit_head(x_all[train], y_all[train], **kw)
    head.temperature, head.uniform_mix = temperature, mix
    val = ok & is_val
    head.metrics = {
        "leave_one_source_out_accuracy": per_source,
        "leave_one_source_out_mean": round(float(np.mean(list(per_source.values()))), 4),
        "leave_one_source_out_log_loss": round(losses[(temperature, mix)], 4),
        "block_split_val_accuracy": round(float(
            (head.probabilities(feat[val]).argmax(1) == labels[val]).mean()), 4),
    }
    head.training = {
        "pack_key": pack_key(pack), "images": int((ok & ~is_val).sum()),
        "altered_views": int(train.sum() - (ok & ~is_val).sum()),
        "with_hand_share": round(float(ok.mean()), 4),
        "model": f"MLP {feat.shape[1]} -> {a.hidden} (ReLU) -> {len(CLASSES)}, Adam, {kw['epochs']} epochs"
                 + (f", {a.seeds} fitted and averaged" if a.seeds > 1 else ""),
        "turned_copies": f"{a.turns} of each, up to {a.turn_degrees:g} degrees" if a.turns else "none",
        "calibration": "temperature and uniform mix with the lowest leave-one-source-out log loss",
        "date": date.today().isoformat(),
        "command": "python tools/pose_head.py " + " ".join(sys.argv[1:]),
    }
    head.save(a.out)
    print(json.dumps({**head.metrics, "temperature": temperature, "uniform_mix": mix,
                      "seconds": round(time.time() - t0), "out": str(a.out)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
