"""Write a hand-cropped copy of a folder-per-class dataset (run where `fingerspell[hands]` is installed).

    python tools/handcrop_dataset.py ../shared/data/train/multi ~/.cache/fingerspell/handcrops/multi

Every image is cropped with fingerspell.handcrop (the runtime's own crop), or copied whole when no
hand is found. MANIFEST.csv is copied so source hold-out still works, and `handcrop.json` records
each file's box (null: no hand) and the detection rate per class. Files already written are kept,
so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import shutil
from functools import partial
from pathlib import Path

from chunked import run_chunks

from fingerspell.files import IMAGE_SUFFIXES
from fingerspell.handcrop import ENGINES
from fingerspell_train.dataset import CROP_INDEX


def _work(pairs: list[tuple[str, str]], engine: str = "auto") -> dict[str, list[int] | None]:
    from PIL import Image

    from fingerspell.handcrop import HandCropper
    from fingerspell.imaging import to_rgb

    cropper = HandCropper(engine=engine)
    boxes: dict[str, list[int] | None] = {}
    for src, dst in pairs:
        img = to_rgb(Image.open(src))
        box = cropper.box(img)
        boxes[src] = list(box) if box else None
        out = img.crop(box) if box else img
        out.save(dst, quality=95)
    cropper.close()
    return boxes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hands", default="auto", choices=ENGINES,
                    help="what finds the hands (fingerspell.handcrop.hand_finder)")
    a = ap.parse_args()
    a.dst.mkdir(parents=True, exist_ok=True)
    index_path = a.dst / CROP_INDEX
    done: dict[str, list[int] | None] = (
        json.loads(index_path.read_text())["boxes"] if index_path.exists() else {})
    todo = []
    for f in sorted(a.src.glob("*/*")):
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        rel = f"{f.parent.name}/{f.name}"
        out = a.dst / f.parent.name / (f.stem + ".jpg")
        if rel in done and out.exists():
            continue
        out.parent.mkdir(exist_ok=True)
        todo.append((str(f), str(out)))
    if (a.src / "MANIFEST.csv").exists():
        shutil.copy(a.src / "MANIFEST.csv", a.dst / "MANIFEST.csv")
    run_chunks(partial(_work, engine=a.hands), todo, a.workers, done, lambda d: _write(index_path, a.src, d))
    summary = _write(index_path, a.src, done)
    print(json.dumps(summary["found"], indent=1))
    return 0


def _write(path: Path, src: Path, boxes: dict[str, list[int] | None]) -> dict:
    per: dict[str, list[int]] = {}
    for rel, box in boxes.items():
        c = per.setdefault(rel.split("/")[0], [0, 0])
        c[0] += box is not None
        c[1] += 1
    found = {k: f"{v[0]}/{v[1]}" for k, v in sorted(per.items())}
    total = sum(v[0] for v in per.values()), sum(v[1] for v in per.values())
    found["all"] = f"{total[0]}/{total[1]}"
    from fingerspell.handcrop import CROP_METHOD

    doc = {"source": str(src), "method": CROP_METHOD, "found": found, "boxes": boxes}
    path.write_text(json.dumps(doc))
    return doc


if __name__ == "__main__":
    raise SystemExit(main())
