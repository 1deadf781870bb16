"""Write a hand mask for every image of a hand-cropped dataset (run where `fingerspell[hands]` is).

    python tools/mask_dataset.py ~/.cache/fingerspell/handcrops/multi

Masks let training put the hand on other backgrounds (`--background-swap`), so the model learns
the hand's shape rather than the rooms of our few signers. Each mask is MediaPipe's selfie
segmentation (it separates a person, hands and arms included, from the scene), limited to the
region around the hand's landmarks when MediaPipe Hands finds them (so a face or body behind the
hand is cut away). Masks that look wrong (too small, too large, or mostly unsure) are not written:
those images keep their own background. Output: `masks/<class>/<stem>.png` (8-bit alpha) inside
the root, and `masks.json` with counts. Files already written are kept (a rerun resumes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chunked import run_chunks

from fingerspell.files import IMAGE_SUFFIXES
from fingerspell_train.dataset import MASK_DIR

# A hand in a hand crop covers a fair share of it; outside these bounds the mask is a failure.
MIN_FG, MAX_FG = 0.1, 0.8
MAX_UNSURE = 0.2  # share of pixels with 0.25 < p < 0.75
SIDE = 256  # masks are computed at this size, then scaled back to the image


def _work(pairs: list[tuple[str, str]]) -> dict[str, str]:
    import cv2
    import numpy as np
    from mediapipe.python.solutions import hands, selfie_segmentation
    from PIL import Image

    seg = selfie_segmentation.SelfieSegmentation(model_selection=0)
    det = hands.Hands(static_image_mode=True, max_num_hands=1, min_detection_confidence=0.3)
    status: dict[str, str] = {}
    for src, dst in pairs:
        img = Image.open(src).convert("RGB")
        px = np.asarray(img.resize((SIDE, SIDE), Image.Resampling.BILINEAR))
        m = seg.process(px).segmentation_mask.astype(np.float32)
        found = det.process(px).multi_hand_landmarks
        if found:
            pts = np.array([(p.x * SIDE, p.y * SIDE) for p in found[0].landmark])
            pts = np.clip(pts, 0, SIDE - 1).astype(np.int32)
            ext = max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 8)
            near = np.zeros((SIDE, SIDE), np.uint8)
            for a, b in hands.HAND_CONNECTIONS:
                cv2.line(near, tuple(map(int, pts[a])), tuple(map(int, pts[b])), 1,
                         max(3, int(ext * 0.3)))
            cv2.fillPoly(near, [pts[[0, 1, 5, 9, 13, 17]]], 1)
            m *= cv2.GaussianBlur(near.astype(np.float32), (0, 0), ext * 0.05)
        fg = float((m > 0.5).mean())
        unsure = float(((m > 0.25) & (m < 0.75)).mean())
        if not (MIN_FG <= fg <= MAX_FG) or unsure > MAX_UNSURE:
            status[src] = "rejected"
            continue
        alpha = Image.fromarray((m * 255).round().astype(np.uint8)).resize(
            img.size, Image.Resampling.BILINEAR)
        alpha.save(dst)
        status[src] = "hand" if found else "person"
    seg.close()
    det.close()
    return status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    out_root = a.root / MASK_DIR
    index_path = a.root / "masks.json"
    done: dict[str, str] = (json.loads(index_path.read_text())["status"]
                            if index_path.exists() else {})
    todo = []
    for f in sorted(a.root.glob("*/*")):
        if f.parent.name == MASK_DIR or f.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        rel = f"{f.parent.name}/{f.name}"
        if rel in done:
            continue
        (out_root / f.parent.name).mkdir(parents=True, exist_ok=True)
        todo.append((str(f), str(out_root / f.parent.name / (f.stem + ".png"))))
    run_chunks(_work, todo, a.workers, done, lambda d: _write(index_path, d))
    print(json.dumps(_write(index_path, done)["counts"]))
    return 0


def _write(path: Path, status: dict[str, str]) -> dict:
    counts: dict[str, int] = {}
    for st in status.values():
        counts[st] = counts.get(st, 0) + 1
    doc = {"method": f"mediapipe selfie segmentation x hand-landmark region, fg {MIN_FG}-{MAX_FG}",
           "counts": counts, "status": status}
    path.write_text(json.dumps(doc))
    return doc


if __name__ == "__main__":
    raise SystemExit(main())
