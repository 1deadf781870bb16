"""The pose head on the block split's validation images: does fusing it cost the training people?

    python benchmarks/pose_val.py --pack .gpu --pose artifacts/fingerspell-pose.json \
        [--mirror .gpu/pose-mirror.npz] [--model artifacts/fingerspell-vgg16-int8.onnx]

The network (an artifact, through the runtime) reads the pack's 150 px validation images; the
pose head reads the landmarks `tools/gpu/pose.py` stored for them (and, for a head that reads the
mirror image too, those of `--mirror`: the runtime's rule, the views with a hand averaged), and
the two are fused as the runtime fuses them. The head was fitted on the block split's training
images only (`tools/pose_head.py`), so these are new frames of the training people. Prints the
network alone and fused, with the counts.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from pose_head import image_features, view_features  # noqa: E402

from fingerspell import Recognizer  # noqa: E402
from fingerspell.handpose import PoseHead, fuse  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True, help="folder with pack.npz and pose.npz")
    ap.add_argument("--pose", type=Path, required=True, help="a pose head document")
    ap.add_argument("--mirror", type=Path, help="pose-mirror.npz, for a head that reads the mirror")
    ap.add_argument("--view", "--turn-view", dest="view", type=Path, action="append", default=[],
                    help="pose-turn<DEG>.npz or pose-pad<P>.npz (tools/gpu/pose.py --turn DEG / "
                         "--pad P), one per turn and pad the head reads")
    ap.add_argument("--model", type=Path, help="an artifact (default: the bundled one)")
    a = ap.parse_args()
    pack = np.load(a.pack / "pack.npz")
    head = PoseHead.load(a.pose)
    if head.mirror and a.mirror is None:
        ap.error(f"{a.pose} reads the mirror image too: give --mirror (tools/gpu/pose.py --mirror)")
    views = [image_features(a.pack, pack, head.features)]  # the image; then its mirror for such a head
    views += view_features(a.mirror, pack, head.features) if head.mirror else []
    want = [f"pose-turn{t:+g}.npz" for t in head.turns] + [f"pose-pad{p:g}.npz" for p in head.pads]
    if sorted(f.name for f in a.view) != sorted(want):
        ap.error(f"{a.pose} reads {head.views()}: give --view for each of {want or 'none'}")
    views += [view_features(f, pack, head.features)[0] for f in a.view]
    val = np.flatnonzero(pack["is_val"])
    labels = pack["label"][val].astype(int)
    blob, off = pack["blob"], pack["offsets"]
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes()))
                                  .convert("RGB")) for i in val])
    rec = Recognizer(a.model, pose="none", crop="none")
    net = np.concatenate([rec.probabilities(pixels[s:s + 64]) for s in range(0, len(val), 64)])
    feats, found = [f[val] for f, _ in views], [ok[val] for _, ok in views]
    fused = net.copy()
    for k in range(len(val)):
        rows = [f[k] for f, ok in zip(feats, found, strict=True) if ok[k]]
        if found[0][k] and not head.wants_more_views(feats[0][k]):
            rows = rows[:1]  # as the runtime: a sure first view stands alone
        if rows:
            fused[k] = fuse(net[k], head.probabilities_of_views(np.stack(rows)))
    n_net, n_fused = int((net.argmax(1) == labels).sum()), int((fused.argmax(1) == labels).sum())
    print(json.dumps({"images": len(val), "with_hand": int(np.any(found, axis=0).sum()),
                      "network_alone": n_net, "fused": n_fused,
                      "network_alone_pct": round(100 * n_net / len(val), 2),
                      "fused_pct": round(100 * n_fused / len(val), 2),
                      "pose": str(a.pose), "mirror": head.mirror, "turns": head.turns,
                      "pads": head.pads, "views_below": head.views_below}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
