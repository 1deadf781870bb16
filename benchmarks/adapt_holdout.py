"""`fingerspell adapt` on people it never saw: fold heads adapted to a few photos of each letter
of a held-out source, scored on that source's later photos.

    python benchmarks/adapt_holdout.py --pack .gpu --probs runs/folds/probs_f1.npz \
        --probs runs/folds/probs_f2.npz --probs runs/folds/probs_f3.npz --json runs/adapt-holdout.json

For each fold (`tools/fusion_fit.py`: a network trained without three `train/multi` sources, its
answers on their images), a pose head fitted as the shipped one without those sources (the
image's and the mirror image's landmarks, the shipped calibration). For each held-out source and
letter, its photos in the order of their frame numbers: the first 30 % are the photos a user
would enrol, the last 50 % the ones read afterwards (the 20 % between keeps near-identical
neighbouring frames apart). `k` photos per letter are drawn from the first part (a photo's hand
crop and whole image both, as the pack holds them, with the landmarks of the other views the
shipped head reads: pose-mirror.npz, pose-turn+15.npz, and the fold network's answers for those
photos), the fold head is adapted with `fingerspell.adapt.fitted` as `fingerspell adapt` does
(half its loss on the fused answer), and every pack image
of the last part with a hand is read by the pose head alone and fused with the fold network.
`--reps` draws; the rows are the means over sources. "some letters": photos of a random half
of the letters only, so the head is adapted to those letters only (`PoseHead.adapted_classes`);
"fine-tuned alone": the same photos through `adapt_head` alone, which reads every hand as one
of the letters it was shown.
Numpy and the runtime only, about a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from pose_head import fit_without, image_features, view_features

from fingerspell.adapt import adapt_head, fitted
from fingerspell.handpose import PoseHead, fuse

SHIPPED_HEAD = Path(__file__).resolve().parents[1] / "artifacts" / "fingerspell-pose.json"
ENROL_SHARE, READ_FROM = 0.3, 0.5


def frame_number(path: str) -> int:
    """The last number in a file's name (`data_A_17.jpg`, `A50.jpg`): its frame order."""
    found = re.findall(r"\d+", path.rsplit("/", 1)[-1])
    return int(found[-1]) if found else 0


def split(photos: np.ndarray, names: np.ndarray, order: np.ndarray) -> tuple[list[str], set[str]]:
    """(photo names to enrol from, photo names to read): the first and last of them by frame."""
    # ties in frame number broken by name: a set's order changes with each run's string hashing
    ranked = sorted(set(names[photos]), key=lambda n: (order[n], n))
    n = len(ranked)
    return ranked[:max(1, int(ENROL_SHARE * n))], set(ranked[int(READ_FROM * n):])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True, help="folder with pack.npz and pose.npz")
    ap.add_argument("--probs", type=Path, action="append", required=True)
    ap.add_argument("--shots", type=int, nargs="+", default=[1, 3, 5, 10], help="photos per letter")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    shipped = PoseHead.load(SHIPPED_HEAD)
    pack = dict(np.load(a.pack / "pack.npz"))
    feat, ok = image_features(a.pack, pack)
    # the other views the shipped head reads, as `adapt` enrols them (tools/gpu/pose.py --mirror,
    # --turn DEG)
    files = ["pose-mirror.npz"] * shipped.mirror + [f"pose-turn{t:+g}.npz" for t in shipped.turns]
    views = [v for f in files for v in view_features(a.pack / f, pack)]
    source, label = pack["source"], pack["label"].astype(int)
    names = np.array([str(p).rsplit("/", 1)[-1] for p in pack["paths"]])  # a crop shares its photo's
    order = {n: frame_number(n) for n in names}
    rows: dict[str, list[list[float]]] = {}  # way -> per source [pose alone, fused]
    done: list[str] = []  # the sources, in the order of rows' lists
    for f in a.probs:
        got = np.load(f)
        index, net = got["index"], got["probs"].astype(np.float64)
        at = {int(i): k for k, i in enumerate(index)}
        held = np.unique(source[index])
        # fitted as the shipped head: on the images and their mirror images' landmarks
        head = fit_without(feat, ok, label, source, held, views[:1] if shipped.mirror else [])
        for name in ("temperature", "uniform_mix"):
            setattr(head, name, getattr(shipped, name))
        for s in held:
            mine = index[(source[index] == s) & ok[index]]
            if not len(mine):
                continue
            scores: dict[str, list[list[float]]] = {}
            for rep in range(a.reps):
                rng = np.random.default_rng(rep)
                pools, read = {}, []
                for c in np.unique(label[mine]):
                    photos = mine[label[mine] == c]
                    first, last = split(photos, names, order)
                    pools[int(c)] = first
                    read += [i for i in photos if names[i] in last]
                read_i = np.array(read)
                y, nt = label[read_i], net[[at[int(i)] for i in read_i]]
                half = set(rng.choice(sorted(pools), len(pools) // 2, replace=False).tolist())
                in_half = np.isin(y, list(half))

                def score(way: str, p: np.ndarray, mask: np.ndarray | None = None,
                          y: np.ndarray = y, nt: np.ndarray = nt,
                          scores: dict[str, list[list[float]]] = scores) -> None:
                    m = np.ones(len(y), bool) if mask is None else mask
                    scores.setdefault(way, []).append([
                        float((p.argmax(1) == y)[m].mean()),
                        float((fuse(nt, p).argmax(1) == y)[m].mean())])

                base = head.probabilities(feat[read_i])
                score("head fitted without the source", base)
                score("some letters: without photos, before", base, ~in_half)
                score("some letters: with photos, before", base, in_half)
                for k in a.shots:
                    shots = f"{k} photo{'s' if k > 1 else ''}"
                    for part in ("every letter", "some letters"):
                        x, t, n = [], [], []
                        for c, pool in pools.items():
                            if part == "some letters" and c not in half:
                                continue
                            pick = set(rng.choice(pool, min(k, len(pool)), replace=False))
                            for i in mine[label[mine] == c]:
                                if names[i] in pick:
                                    seen = [feat[i]] + [vf[i] for vf, v_ok in views if v_ok[i]]
                                    x += seen
                                    t += [c] * len(seen)
                                    n += [net[at[int(i)]]] * len(seen)  # the network's, per photo
                        p = fitted(head, np.array(x), np.array(t), np.array(n)).probabilities(
                            feat[read_i])
                        if part == "every letter":
                            score(f"adapted, {shots} of every letter", p)
                            continue
                        score(f"some letters, {shots}: without photos, after", p, ~in_half)
                        score(f"some letters, {shots}: with photos, after", p, in_half)
                        alone = adapt_head(head, np.array(x), np.array(t), np.array(n)).probabilities(
                            feat[read_i])
                        score(f"some letters, {shots}, fine-tuned alone: without photos", alone,
                              ~in_half)
                        score(f"some letters, {shots}, fine-tuned alone: with photos", alone, in_half)
            for way, v in scores.items():
                rows.setdefault(way, []).append(np.mean(v, axis=0).tolist())
            done.append(str(pack["sources"][s]))
            print(f"{done[-1]}: {len(read_i)} images read", file=sys.stderr)
    print("| mean over held-out sources | pose head alone | fused with the network |")
    print("|---|---|---|")
    for way, v in rows.items():
        m = np.mean(v, axis=0)
        print(f"| {way} | {100 * m[0]:.1f} % | {100 * m[1]:.1f} % |")
    every = [w for w in rows if not w.startswith("some letters")]
    print("\n| held-out source, fused | " + " | ".join(every) + " |")
    print("|---|" + "---|" * len(every))
    for j, name in enumerate(done):
        print(f"| {name.split('/')[0]} | " + " | ".join(f"{100 * rows[w][j][1]:.1f} %" for w in every)
              + " |")
    if a.json:
        a.json.write_text(json.dumps({"sources": done, "per_source": rows, "mean": {
            w: np.mean(v, axis=0).tolist() for w, v in rows.items()}}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
