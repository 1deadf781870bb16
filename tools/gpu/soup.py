"""Average the weights of several `tools/gpu/finetune.py` runs into one model (a "model soup").

Runs fine-tuned from the same start (the HED trunk and the same seeded head) may land in one
basin; then their mean is itself a model, often more robust off-distribution than any of them, at
no cost at inference (Wortsman et al. 2022). Whether they did shows on validation: for our runs
they did not (docs/results.md, "Model soups"). The result has finetune.py's file format, so
`tools/gpu/unpack.py` turns it into a Keras run folder like any GPU run.

    python tools/gpu/soup.py runs/gpu-a1 runs/gpu-a2 --out runs/soup-a12 [--score .gpu]

--score evaluates the soup on the pack's validation split (PyTorch on the CPU, as finetune.py does
on the GPU; about 15 minutes on two cores) and prints the ingredients' scores as they were saved, so
a soup is chosen on validation, never on a dev set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

PARTS = ("weights_a.npz", "weights_b.npz")


def run_log(folder: Path) -> Path:
    """finetune.py's log.json, or device_job.sh's log_<chosen run>.json."""
    chosen = folder / "chosen.txt"
    if (folder / "log.json").is_file() or not chosen.is_file():
        return folder / "log.json"
    return folder / f"log_{chosen.read_text().strip()}.json"


def load_parts(folder: Path) -> list[dict[str, np.ndarray]]:
    parts = [dict(np.load(folder / name)) for name in PARTS]
    for p in parts:
        p.pop("meta", None)
    return parts


def average(folders: list[Path], weights: list[float]) -> list[dict[str, np.ndarray]]:
    """The weighted mean of every array, computed in float32 and stored in each array's dtype."""
    w = np.asarray(weights, np.float64) / float(np.sum(weights))
    loaded = [load_parts(f) for f in folders]
    out: list[dict[str, np.ndarray]] = []
    for i, first in enumerate(loaded[0]):
        for other, folder in zip(loaded[1:], folders[1:], strict=True):
            if other[i].keys() != first.keys():
                raise SystemExit(f"{folder}/{PARTS[i]} holds other arrays than {folders[0]}")
        out.append({k: sum(float(wj) * lj[i][k].astype(np.float32)
                            for wj, lj in zip(w, loaded, strict=True)).astype(v.dtype)
                    for k, v in first.items()})
    return out


def write(parts: list[dict[str, np.ndarray]], out: Path, meta: dict, log: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, arrays in zip(PARTS, parts, strict=True):
        np.savez(out / name, **arrays, meta=np.array(json.dumps(meta)))
    (out / "log.json").write_text(json.dumps(log, indent=1))


def score(folder: Path, pack_dir: Path) -> dict:
    """Validation accuracy (plain and mirror averaged) of a weights folder, on the CPU."""
    import torch
    from finetune import VGG, _decode, evaluate, load_saved  # tools/gpu, on sys.path

    pack = np.load(pack_dir / "pack.npz")
    va = np.flatnonzero(pack["is_val"])  # decode only the validation images
    blob, off = pack["blob"], pack["offsets"]
    pixels = np.concatenate([_decode([blob[off[i]:off[i + 1]].tobytes() for i in va[j:j + 256]])
                             for j in range(0, len(va), 256)])
    model = VGG()
    load_saved(model, folder)
    model = model.to(memory_format=torch.channels_last)
    r = evaluate(model, torch.from_numpy(pixels).permute(0, 3, 1, 2),
                 torch.from_numpy(pack["label"][va].astype(np.int64)), 64)
    return {"val_acc": r["acc"], "val_acc_flip_tta": r["acc_flip_tta"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="weights folders of finetune.py runs")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights", type=float, nargs="+", help="mixing weights (default: equal)")
    ap.add_argument("--score", type=Path, metavar="PACK", help="score on this pack's validation")
    args = ap.parse_args()
    if len(args.runs) < 2:
        raise SystemExit("a soup needs at least two runs")
    weights = args.weights or [1.0] * len(args.runs)
    if len(weights) != len(args.runs) or min(weights) < 0 or sum(weights) <= 0:
        raise SystemExit("--weights: one non-negative number per run, not all zero")

    log = json.loads(run_log(args.runs[0]).read_text())
    log["soup"] = {"runs": [str(r) for r in args.runs], "weights": weights}
    meta = {"epoch": None, "soup": log["soup"]}  # no single epoch: a mean of checkpoints
    parts = average(args.runs, weights)
    write(parts, args.out, meta, log)
    if args.score:
        import sys

        sys.path.insert(0, str(Path(__file__).parent))
        for folder in args.runs:  # the ingredients' own scores, as finetune.py saved them
            saved = json.loads(str(np.load(folder / PARTS[1])["meta"]))
            print(f"{folder}: epoch {saved.get('epoch')}, val_acc {saved.get('val_acc')}, "
                  f"val_acc_flip_tta {saved.get('val_acc_flip_tta')} (GPU)", flush=True)
        t = time.time()
        meta.update(score(args.out, args.score))
        print(f"{args.out}: {json.dumps({k: meta[k] for k in ('val_acc', 'val_acc_flip_tta')})} "
              f"({time.time() - t:.0f} s)", flush=True)
        write(parts, args.out, meta, log)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
