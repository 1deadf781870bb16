"""Hand-pose targets for `finetune.py --pose-aux`: what MediaPipe Hands sees in each pack image.

    .hands/bin/python tools/gpu/pose.py .gpu        # the [hands] venv; writes .gpu/pose.npz

MediaPipe's hand landmarker was trained on far more hands, people and rooms than our photos hold.
Its 21 landmarks, reduced to how each finger is bent and spread and where the fingertips are
relative to the thumb's, describe a letter's hand shape whoever makes it. A training-only head
that predicts these features from the network's own pushes the trunk to encode that shape (a
second teacher, distilled; nothing changes at inference). The features are angles and distance
ratios, so the training augmentation (crops, tilts, mirror images, colour) leaves them as they
are and one target per image serves every augmented view of it. Images where no hand is found
(29 % of the pack of 2026-11-27: 3 % of one source's images, 63 % of another's) are marked
invalid and train the classifier alone.
Output: `pose.npz` beside `pack.npz`: `feat` (float16, images x 24), `valid` (bool), the 21
landmarks (`world`, metres) and MediaPipe's handedness (`right`), and the
pack's fingerprint (`pack_key`), so a rebuilt pack is never read with another pack's targets; a
rerun for the same pack keeps the file (`--force` recomputes).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

# the features live in the runtime, which computes them for its pose head ([hands]); one definition
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtime"))
from fingerspell.handpose import NUM_FEATURES, pose_features

CHUNK = 500


def pack_key(pack: np.lib.npyio.NpzFile | dict) -> str:
    """The pack's images (their byte offsets) and labels, hashed: what the targets line up with."""
    h = hashlib.sha256(np.ascontiguousarray(pack["offsets"], np.int64).tobytes())
    h.update(np.ascontiguousarray(pack["label"], np.int64).tobytes())
    return h.hexdigest()[:16]


def stored_key(targets: np.lib.npyio.NpzFile) -> str:
    """The fingerprint a pose.npz was made for ("" for a trial or a file from before keys)."""
    return str(targets["pack_key"]) if "pack_key" in targets.files else ""


def _work(job: tuple[str, int, int]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from PIL import Image

    from fingerspell.handcrop import HandCropper  # the runtime's detector, its retry included

    pack_path, start, stop = job
    pack = np.load(pack_path)
    blob, off = pack["blob"], pack["offsets"]
    feat = np.zeros((stop - start, NUM_FEATURES), np.float32)
    valid = np.zeros(stop - start, bool)
    world = np.zeros((stop - start, 21, 3), np.float32)
    right = np.zeros(stop - start, bool)  # MediaPipe's handedness: "Right"
    hands = HandCropper()
    for k, i in enumerate(range(start, stop)):
        with Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes())) as im:
            # MediaPipe's palm detector works at 192 px: a 150 px image is upscaled first
            hand = hands.look(im.convert("RGB").resize((300, 300), Image.Resampling.BILINEAR))
        if hand is not None:  # metric 3D landmarks: angles not skewed by the photo's perspective
            world[k] = hand.world
            feat[k] = pose_features(world[k])
            right[k] = hand.right
            valid[k] = True
    hands.close()
    return start, feat, valid, world, right


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack_dir", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0,
                    help="only the first N images, into pose-trial.npz (the targets stay)")
    ap.add_argument("--force", action="store_true", help="recompute even if the targets are there")
    a = ap.parse_args()
    pack_path = a.pack_dir / "pack.npz"
    out = a.pack_dir / ("pose-trial.npz" if a.limit else "pose.npz")
    pack = np.load(pack_path)
    key, n = pack_key(pack), len(pack["label"])
    if out.is_file() and not (a.force or a.limit) and stored_key(np.load(out)) == key:
        print(f"{out} already holds this pack's targets (--force recomputes)")
        return 0
    n = min(n, a.limit) if a.limit else n
    jobs = [(str(pack_path), s, min(s + CHUNK, n)) for s in range(0, n, CHUNK)]
    feat = np.zeros((n, NUM_FEATURES), np.float32)
    valid = np.zeros(n, bool)
    world = np.zeros((n, 21, 3), np.float32)  # the landmarks too, for pose heads on other numbers
    right = np.zeros(n, bool)
    t0 = time.time()
    # spawned workers: MediaPipe does not survive fork
    with mp.get_context("spawn").Pool(a.workers) as pool:
        for done, (start, f, v, w, r) in enumerate(pool.imap_unordered(_work, jobs), 1):
            feat[start:start + len(v)], valid[start:start + len(v)] = f, v
            world[start:start + len(v)], right[start:start + len(v)] = w, r
            print(f"\r{done}/{len(jobs)} chunks, {time.time() - t0:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    # a trial's partial file gets no key, so finetune.py refuses it even under the real name
    np.savez_compressed(out, feat=feat.astype(np.float16), valid=valid, world=world, right=right,
                        pack_key="" if a.limit else key)
    print(json.dumps({"images": n, "with_hand": int(valid.sum()), "seconds": round(time.time() - t0),
                      "out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
