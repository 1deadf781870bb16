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

`--views N` writes `pose-views.npz` instead: the landmarks MediaPipe finds in N altered copies of
each image (every other one mirrored; a random zoom, tilt, brightness, contrast and blur), for
the pose head (`tools/pose_head.py --views`). Their landmarks err the way MediaPipe errs on
another view of a hand, which teaches the head more than the same landmarks seen again.
`--mirror` writes `pose-mirror.npz` (the same layout, one view): the landmarks of each image's
plain mirror image, what a runtime reading the photo and its mirror would see
(`tools/fusion_fit.py --mirror`).
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
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

# the features live in the runtime, which computes them for its pose head ([hands]); one definition
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtime"))
from fingerspell.handcrop import ENGINES
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


def altered(img: Image, rng: np.random.Generator, mirror: bool) -> Image:
    """Another view of a 300 px square: mirrored or not, zoomed 0.85-1.2x (in or out, shifted),
    tilted up to 18 degrees, brightness and contrast +-30 %, and blurred in 3 of 10."""
    from PIL import Image as PILImage
    from PIL import ImageEnhance, ImageFilter

    size = img.width
    if mirror:
        img = img.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
    fill = tuple(int(c) for c in np.asarray(img)[0, 0])  # the corner's colour, not black
    zoom, tilt = rng.uniform(0.85, 1.2), rng.uniform(-18, 18)
    side = round(size * zoom)
    if zoom >= 1:  # out: the image on a larger canvas, shifted a little
        canvas = PILImage.new("RGB", (side, side), fill)
        shift = (side - size) // 2
        canvas.paste(img, (shift + int(rng.integers(-10, 11)), shift + int(rng.integers(-10, 11))))
        img = canvas.resize((size, size), PILImage.Resampling.BILINEAR)
    else:  # in: a random square of the image
        x, y = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
        img = img.crop((x, y, x + side, y + side)).resize((size, size), PILImage.Resampling.BILINEAR)
    fill = tuple(int(c) for c in np.asarray(img)[0, 0])  # again: the zoom moved the corner
    img = img.rotate(tilt, resample=PILImage.Resampling.BILINEAR, fillcolor=fill)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    return img


def _work(job: tuple[str, int, int, int, float, float, str]
          ) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from PIL import Image

    from fingerspell.handcrop import HandCropper  # the runtime's detector, its retry included

    # view -1: the image itself (turned by `turn` degrees, padded by `pad` if not 0); -2: its
    # mirror image (the same)
    pack_path, start, stop, view, turn, pad, engine = job
    # the same views whatever the workers (a seed must not be negative: none for the image itself)
    rng = np.random.default_rng(1000 * view + start) if view >= 0 else None
    pack = np.load(pack_path)
    blob, off = pack["blob"], pack["offsets"]
    feat = np.zeros((stop - start, NUM_FEATURES), np.float32)
    valid = np.zeros(stop - start, bool)
    world = np.zeros((stop - start, 21, 3), np.float32)
    right = np.zeros(stop - start, bool)  # MediaPipe's handedness: "Right"
    hands = HandCropper(engine=engine)
    for k, i in enumerate(range(start, stop)):
        with Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes())) as im:
            # MediaPipe's palm detector works at 192 px: a 150 px image is upscaled first
            img = im.convert("RGB").resize((300, 300), Image.Resampling.BILINEAR)
            if rng is None:  # the image, or its mirror image as the runtime looks at it
                hand = hands.look(img, mirror=view == -2, turn=turn, pad=pad)
            else:
                hand = hands.look(altered(img, rng, mirror=view % 2 == 0))
        if hand is not None:  # metric 3D landmarks: angles not skewed by the photo's perspective
            world[k] = hand.world
            feat[k] = pose_features(world[k])
            right[k] = hand.right
            valid[k] = True
    hands.close()
    return view, start, feat, valid, world, right


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack_dir", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0,
                    help="only the first N images, into pose-trial.npz (the targets stay)")
    ap.add_argument("--force", action="store_true", help="recompute even if the targets are there")
    ap.add_argument("--views", type=int, default=0,
                    help="N altered views of each image instead, into pose-views.npz (pose head)")
    ap.add_argument("--mirror", action="store_true",
                    help="each image's plain mirror image instead, into pose-mirror.npz")
    ap.add_argument("--turn", type=float, default=0.0,
                    help="each image turned by this many degrees instead (the landmarks turned "
                         "back, as the runtime's look(turn=...)), into pose-turn<DEG>.npz")
    ap.add_argument("--pad", type=float, default=0.0,
                    help="each image with this share of each side added around it instead (the "
                         "runtime's look(pad=...)), into pose-pad<P>.npz; with --mirror and "
                         "--turn, pose-mirror-turn<DEG>-pad<P>.npz")
    ap.add_argument("--hands", default="auto", choices=ENGINES,
                    help="what finds the hands (fingerspell.handcrop.hand_finder); the pose files "
                         "of the shipped head were made with mediapipe, before the bundled models")
    a = ap.parse_args()
    if a.views and (a.mirror or a.turn or a.pad):
        ap.error("--views writes altered views of its own: not with --mirror, --turn or --pad")
    pack_path = a.pack_dir / "pack.npz"
    plain = a.mirror or a.turn or a.pad  # one plain view other than the image itself
    name = "pose" + "-mirror" * a.mirror + (f"-turn{a.turn:+g}" if a.turn else "") + (
        f"-pad{a.pad:g}" if a.pad else "")
    out = a.pack_dir / ("pose-trial.npz" if a.limit else "pose-views.npz" if a.views
                        else f"{name}.npz")
    pack = np.load(pack_path)
    key, n = pack_key(pack), len(pack["label"])
    if out.is_file() and not (a.force or a.limit) and stored_key(np.load(out)) == key:
        print(f"{out} already holds this pack's targets (--force recomputes)")
        return 0
    n = min(n, a.limit) if a.limit else n
    views = list(range(a.views)) if a.views else [-2] if a.mirror else [-1]
    jobs = [(str(pack_path), s, min(s + CHUNK, n), v, a.turn, a.pad, a.hands) for v in views
            for s in range(0, n, CHUNK)]
    feat = np.zeros((len(views), n, NUM_FEATURES), np.float32)
    valid = np.zeros((len(views), n), bool)
    world = np.zeros((len(views), n, 21, 3), np.float32)  # the landmarks, for the pose head
    right = np.zeros((len(views), n), bool)
    t0 = time.time()
    # spawned workers: MediaPipe does not survive fork
    with mp.get_context("spawn").Pool(a.workers) as pool:
        for done, (view, start, f, v, w, r) in enumerate(pool.imap_unordered(_work, jobs), 1):
            k, rows = max(view, 0), slice(start, start + len(v))
            feat[k, rows], valid[k, rows], world[k, rows], right[k, rows] = f, v, w, r
            print(f"\r{done}/{len(jobs)} chunks, {time.time() - t0:.0f} s", end="", file=sys.stderr)
    print(file=sys.stderr)
    # a trial's partial file gets no key, so finetune.py refuses it even under the real name
    stored = "" if a.limit else key
    if a.views or plain:
        np.savez_compressed(out, valid=valid, world=world, right=right, pack_key=stored)
    else:
        np.savez_compressed(out, feat=feat[0].astype(np.float16), valid=valid[0], world=world[0],
                            right=right[0], pack_key=stored)
    print(json.dumps({"images": n, "views": a.views, "with_hand": valid.sum(1).tolist(),
                      "seconds": round(time.time() - t0), "out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
