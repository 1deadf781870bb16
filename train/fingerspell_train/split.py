"""Train/validation splits, honest and otherwise.

Images from one recording are near-duplicates of their neighbours, so a random split puts copies of
the validation images into training and measures memory, not recognition (the study's 100 %).

- `block` (default, "leak-free"): within every (source, class) group, sorted by the frame number in
  the file name, one contiguous block of `val_fraction` goes to validation, and `gap` images on
  each side of it are dropped from both sides so no neighbour of a validation frame is trained on.
  Same people and rooms as training: an in-distribution estimate.
- `source`: whole sources (people/rooms) are held out: the estimate of "a person we never saw".
- `random`: the study's split, kept only to show what it overstates.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from fingerspell.files import natural_key
from fingerspell_train.dataset import Sample

SPLITS = ("block", "source", "random")


@dataclass
class Split:
    train: list[Sample]
    val: list[Sample]
    method: str
    dropped: int = 0  # neighbours of validation blocks used on neither side

    def describe(self) -> dict:
        return {"method": self.method, "train": len(self.train), "val": len(self.val),
                "dropped_neighbours": self.dropped}


def block_split(samples: list[Sample], val_fraction: float = 0.2, gap: int = 2,
                seed: int = 0) -> Split:
    rng = random.Random(seed)
    groups: dict[tuple[str, int], list[Sample]] = defaultdict(list)
    for s in samples:
        groups[(s.source, s.label)].append(s)
    train: list[Sample] = []
    val: list[Sample] = []
    dropped = 0
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda s: natural_key(s.path.name))
        n_val = round(len(group) * val_fraction)
        if n_val == 0 or len(group) - n_val - 2 * gap < 1:
            train.extend(group)  # too small to split honestly: all of it trains
            continue
        start = rng.randint(0, len(group) - n_val)
        lo, hi = start, start + n_val
        val.extend(group[lo:hi])
        keep = [s for i, s in enumerate(group) if i < lo - gap or i >= hi + gap]
        dropped += len(group) - n_val - len(keep)
        train.extend(keep)
    return Split(train, val, "block", dropped)


def source_split(samples: list[Sample], holdout: list[str]) -> Split:
    known = {s.source for s in samples}
    missing = [h for h in holdout if h not in known]
    if missing:
        raise ValueError(f"unknown source(s) {missing}; known: {sorted(known)}")
    held = set(holdout)
    return Split([s for s in samples if s.source not in held],
                 [s for s in samples if s.source in held], "source")


def random_split(samples: list[Sample], val_fraction: float = 0.2, seed: int = 0) -> Split:
    order = list(samples)
    random.Random(seed).shuffle(order)
    n_val = round(len(order) * val_fraction)
    return Split(order[n_val:], order[:n_val], "random")


def make_split(samples: list[Sample], method: str, val_fraction: float = 0.2, gap: int = 2,
               holdout: list[str] | None = None, seed: int = 0) -> Split:
    if method == "block":
        return block_split(samples, val_fraction, gap, seed)
    if method == "source":
        if not holdout:
            raise ValueError("the source split needs --holdout-source")
        return source_split(samples, holdout)
    if method == "random":
        return random_split(samples, val_fraction, seed)
    raise ValueError(f"unknown split {method!r}; choose one of {', '.join(SPLITS)}")


def run_validation(run_dir: Path) -> tuple[list[Sample], dict[Path, str]]:
    """A run's own validation images (its roots and split, from its config.json) and the root each
    came from, for scripts that score a run on what it was validated on."""
    from fingerspell_train.dataset import discover

    cfg = json.loads((run_dir / "config.json").read_text())
    per_root = {r: discover(r) for r in cfg["roots"]}
    sp = cfg["split"]
    val = make_split([s for ss in per_root.values() for s in ss], sp["method"], sp["val_fraction"],
                     sp["gap"], sp["holdout"], sp["seed"]).val
    root_of = {s.path: r for r, ss in per_root.items() for s in ss}
    return val, root_of
