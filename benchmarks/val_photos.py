"""The block split's validation photos, read the way `fingerspell predict` reads a user's photo.

    python benchmarks/val_photos.py --pack .gpu --out /tmp/val            # link them
    fingerspell predict /tmp/val --csv > runs/val-installed.csv            # as installed
    fingerspell predict /tmp/val --csv --crop none --pose none > runs/val-net.csv
    python benchmarks/val_photos.py --out /tmp/val --installed runs/val-installed.csv \
        --network runs/val-net.csv --json runs/val-photos.json

The card's validation figure is Keras on the pack's 150 px images, whole photos and hand crops
alike. A user hands the runtime the whole photo at full size: it finds the hand, crops it, and
fuses the pose head. This links the validation split's whole photos (new frames of the training
people, never adjacent to a training frame; no crops) into `OUT/<label>/` so that the runtime's
own commands read them, then scores the CSVs they write: per source, what the photos are read as,
and the photos one of the two reads right and the other does not.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

LIST = "photos.csv"  # in OUT: each link's pack index, path, source and label


def link(pack_dir: Path, out: Path, root: Path) -> int:
    """Link the validation split's whole photos into OUT/<label>/<pack index>-<name>."""
    from fingerspell.schema import CLASSES  # the runtime's labels (on sys.path from __main__)

    pack = np.load(pack_dir / "pack.npz")
    paths, labels, source = pack["paths"], pack["label"].astype(int), pack["source"]
    names = [str(s) for s in pack["sources"]]
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out}: not empty (the links go into a folder of their own)")
    rows, missing = [], 0
    for i in np.flatnonzero(pack["is_val"]):
        path = Path(str(paths[i]))
        if "handcrops" in path.parts:  # the pack's crops: the runtime makes its own
            continue
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            missing += 1
            continue
        label = CLASSES[labels[i]]
        dest = out / label / f"{i}-{path.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(path.resolve())
        rows.append({"index": int(i), "path": str(path), "source": names[source[i]], "label": label})
    if not rows:
        raise SystemExit(f"{pack_dir}: no validation photo found under {root}")
    with open(out / LIST, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} validation photos linked into {out}"
          + (f"; {missing} not found under {root}" if missing else ""))
    return 0


def answers(path: Path) -> dict[int, str]:
    """A `fingerspell predict --csv` file's answer for each linked photo, by pack index."""
    with open(path, newline="") as f:
        return {int(Path(r["source"]).name.split("-", 1)[0]): r["label"] for r in csv.DictReader(f)}


def score(out: Path, installed: Path, network: Path | None = None) -> dict[str, dict[str, int]]:
    """Per source: photos, right as installed and (given its CSV) right by the network alone;
    prints the table, what each reads the photos as, and the photos the two read differently."""
    with open(out / LIST, newline="") as f:
        photos = {int(r["index"]): r for r in csv.DictReader(f)}
    runs = {"as installed": answers(installed), **({"network alone": answers(network)} if network else {})}
    counts: dict[str, dict[str, int]] = {}
    for i, r in photos.items():
        c = counts.setdefault(r["source"], {"photos": 0, **dict.fromkeys(runs, 0)})
        c["photos"] += 1
        for way, got in runs.items():
            c[way] += int(got.get(i) == r["label"])  # a photo missing from a CSV counts wrong
    counts = dict(sorted(counts.items()))
    counts["all"] = {k: sum(c[k] for c in counts.values()) for k in next(iter(counts.values()))}
    print("| source | photos | " + " | ".join(runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    for s, c in counts.items():
        print(f"| {s.split('/')[0]} | {c['photos']} | "
              + " | ".join(f"{100 * c[k] / c['photos']:.2f} % ({c[k]})" for k in runs) + " |")
    for way, got in runs.items():
        if unread := len(photos.keys() - got.keys()):
            print(f"{way}: {unread} photos not in its CSV (counted wrong)")
        wrong = Counter((r["label"], got.get(i, "-")) for i, r in photos.items()
                        if got.get(i) != r["label"])
        print(f"{way} reads: " + ", ".join(f"{t}→{a} {k}" for (t, a), k in wrong.most_common(10)))
    if network:  # the photos one reads right and the other does not
        a, b = runs["as installed"], runs["network alone"]
        for name, right, other in (("as installed", a, b), ("network alone", b, a)):
            moved = [i for i, r in photos.items() if right.get(i) == r["label"] != other.get(i)]
            print(f"right only {name}: {len(moved)}")
            for i in moved:
                r = photos[i]
                print(f"  {r['path']}: {r['label']}, as installed {a.get(i)}, network alone {b.get(i)}")
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, help="folder with pack.npz (to link)")
    ap.add_argument("--out", type=Path, required=True, help="the folder of links")
    ap.add_argument("--root", type=Path, default=Path("."),
                    help="where the pack's relative paths start (the folder it was made in)")
    ap.add_argument("--installed", type=Path,
                    help="`fingerspell predict OUT --csv`: score it instead of linking")
    ap.add_argument("--network", type=Path,
                    help="with --installed: `fingerspell predict OUT --csv --crop none --pose none`")
    ap.add_argument("--json", type=Path, help="with --installed: the counts per source, for the "
                                              "card (fingerspell_export.hands_card --val-photos)")
    a = ap.parse_args()
    if a.installed is None:
        if a.network or a.json or a.pack is None:
            ap.error("linking takes --pack; --network and --json go with --installed")
        return link(a.pack, a.out, a.root)
    counts = score(a.out, a.installed, a.network)
    if a.json:
        a.json.write_text(json.dumps(counts, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
    raise SystemExit(main())
