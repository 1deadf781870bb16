"""Generated datasets for tests: one coloured shape per class, so learning is easy but real."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = {  # class -> (shape, colour)
    "A": ("ellipse", (220, 40, 40)),
    "B": ("rectangle", (40, 200, 40)),
    "C": ("triangle", (40, 60, 220)),
    "D": ("ellipse", (230, 200, 30)),
    "E": ("rectangle", (200, 40, 200)),
    "space": ("triangle", (30, 200, 200)),
}


def draw(cls: str, rng: np.random.Generator, size: int = 48) -> Image.Image:
    shape, colour = SHAPES[cls]
    bg = tuple(int(v) for v in rng.integers(0, 90, 3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    r = int(rng.integers(size // 4, size // 2 - 2))
    cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
    box = (cx - r, cy - r, cx + r, cy + r)
    jitter = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in colour)
    if shape == "ellipse":
        d.ellipse(box, fill=jitter)
    elif shape == "rectangle":
        d.rectangle(box, fill=jitter)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=jitter)
    return img


def make_dataset(root: Path, per_class: int = 30, classes: tuple[str, ...] = tuple(SHAPES),
                 sources: tuple[str, ...] = ("alice", "bob"), seed: int = 0,
                 size: int = 48) -> Path:
    """Folder-per-class JPEGs named like video frames, with a MANIFEST naming two sources."""
    rng = np.random.default_rng(seed)
    rows = []
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            src = sources[i * len(sources) // per_class]
            name = f"{src}_{cls}{i}.jpg"
            draw(cls, rng, size).save(root / cls / name, quality=92)
            rows.append({"path": f"{cls}/{name}", "class": cls, "source_repo": src})
    with (root / "MANIFEST.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "class", "source_repo"])
        w.writeheader()
        w.writerows(rows)
    return root
