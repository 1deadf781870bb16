"""Turn `tools/gpu/finetune.py`'s weights back into a Keras run folder that `fingerspell export` takes.

    python tools/gpu/unpack.py WEIGHTS_DIR --pack .gpu --out runs/gpu-ft \
        --eval ../shared/data/dev/massey --command "..."

WEIGHTS_DIR holds `weights_a.npz`, `weights_b.npz` and `log.json` as the GPU run wrote them
(or device_job.sh's `chosen.txt` and `log_<run>.json`). The
`vgg16-ft` preset gives the architecture; its 13 convs and head are set, every layer checked.
The validation split (in the pack) and any --eval folder are scored here, with Keras on the CPU,
so the run folder's numbers come from the model that gets exported, not from the GPU's bf16 run.
With --snap-int8 that model's kernels are first rounded to the int8 grid the artifacts use.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from soup import run_log  # tools/gpu, the script's own folder

from fingerspell_train.fit import build_metadata, predict_batches
from fingerspell_train.presets import build_vgg, get_preset
from fingerspell_train.report import classification_report, plot_history, write_report
from fingerspell_train.snap import snap_int8


def load_weights(model: object, weights_dir: Path) -> dict:
    arrays: dict[str, np.ndarray] = {}
    for name in ("weights_a.npz", "weights_b.npz"):
        arrays.update(dict(np.load(weights_dir / name)))
    meta = json.loads(str(arrays.pop("meta")))
    convs = sorted({k.split("/")[0] for k in arrays if k.startswith("block")})
    if len(convs) != 13:
        raise ValueError(f"expected 13 convs in {weights_dir}, found {len(convs)}")
    sets = {name: [arrays[f"{name}/kernel"].astype(np.float32), arrays[f"{name}/bias"]]
            for name in convs}
    sets["head_norm"] = [arrays[f"head_norm/{k}"] for k in ("gamma", "beta", "mean", "var")]
    sets["predictions"] = [arrays["predictions/kernel"], arrays["predictions/bias"]]
    for name, values in sets.items():
        layer = model.get_layer(name)  # type: ignore[attr-defined]
        layer.set_weights(values)
        for got, want in zip(layer.get_weights(), values, strict=True):
            if not np.array_equal(got, want.astype(got.dtype)):
                raise RuntimeError(f"weights for {name} were not assigned")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights_dir", type=Path)
    ap.add_argument("--pack", type=Path, required=True, help="the folder pack.py wrote")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--eval", type=Path, action="append", default=[])
    ap.add_argument("--command", required=True, help="the commands that made this run, recorded")
    ap.add_argument("--snap-int8", action="store_true",
                    help="round every conv and dense kernel to the int8 grid the artifacts use "
                         "before scoring and saving (fingerspell_train.snap)")
    args = ap.parse_args()

    from fingerspell_train.dataset import Sample, class_counts, crop_of, discover_all, source_counts
    from fingerspell_train.evaluate import evaluate_model
    from fingerspell_train.features import load_pixel_arrays

    args.out.mkdir(parents=True, exist_ok=True)
    preset = get_preset("vgg16-ft")
    model = build_vgg(preset).full
    meta = load_weights(model, args.weights_dir)
    snapped = snap_int8(model) if args.snap_int8 else []
    log_path = run_log(args.weights_dir)
    log = json.loads(log_path.read_text())
    shutil.copy(log_path, args.out / "gpu_log.json")

    size = int(model.input_shape[1])
    pack = np.load(args.pack / "pack.npz")
    val_paths = [Path(p) for p, v in zip(pack["paths"], pack["is_val"], strict=True) if v]
    sources = [str(pack["sources"][s]) for s, v in zip(pack["source"], pack["is_val"],
                                                        strict=True) if v]
    labels = np.array([int(y) for y, v in zip(pack["label"], pack["is_val"], strict=True) if v])
    x, ok = load_pixel_arrays([Sample(p, int(y), s) for p, y, s in
                               zip(val_paths, labels, sources, strict=True)], size)
    idx = np.flatnonzero(ok)
    pred = predict_batches(model, x[idx], batch=64).argmax(1)
    rep = classification_report(labels[idx], pred, [sources[i] for i in idx])
    write_report(rep, args.out, "val_report", "GPU fine-tune, validation (block split)")
    summary = {"preset": "vgg16-ft", "best_epoch": meta["epoch"], "soup": meta.get("soup"),
               "val_accuracy": rep["accuracy"], "gpu_val_acc": meta.get("val_acc"),
               "gpu_val_acc_flip_tta": meta.get("val_acc_flip_tta"), "unreadable": int((~ok).sum()),
               "snapped_int8": snapped, "weights": meta.get("weights", "trained")}
    model.save(args.out / "model.keras")
    for folder in args.eval:  # scored from the saved file, as `fingerspell evaluate` does
        r = evaluate_model(args.out / "model.keras", folder, args.out)
        summary[f"eval_{folder.name}_accuracy"] = r["accuracy"]

    hist = {"loss": [h["loss"] for h in log["history"]],
            "accuracy": [h["train_acc_aug"] for h in log["history"]],
            "val_accuracy": [h["val_acc"] for h in log["history"]]}
    plot_history(hist, args.out / "curves.png", "vgg16 fine-tuned on GPU")
    (args.out / "history.json").write_text(json.dumps(hist, indent=1))
    info = json.loads((args.pack / "pack.json").read_text())
    preset = get_preset(
        "vgg16-ft", trainable_from="block1_conv1", epochs=len(log["history"]),
        batch_size=int(log["args"]["batch"]), finetune_learning_rate=float(log["args"]["lr"]),
        warmup_epochs=0, augment_views=0, background_swap=float(log["augment"]["background"]),
        description="all 13 convs and the head fine-tuned with PyTorch on a GPU "
                    "(tools/gpu/finetune.py) from the backbone weights; augmentation drawn afresh "
                    "on the GPU every epoch")
    roots = info["roots"]
    samples = discover_all(roots)
    config = {"preset": preset.to_dict(), "roots": roots, "split": {**info["split"], "holdout": []},
              "backbone_weights": info["backbone_weights"], "command": args.command,
              "class_counts": class_counts(samples), "source_counts": source_counts(samples),
              "train_images": log["train"], "val_images": log["val"], "augment_views": 0,
              "crop": crop_of(roots),
              "gpu": {k: log[k] for k in ("device", "torch", "augment", "args", "train_seconds")}}
    (args.out / "config.json").write_text(json.dumps(config, indent=1))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    md = build_metadata(preset, config, summary)
    (args.out / "metadata.json").write_text(md.to_json(indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
