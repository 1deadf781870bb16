"""`fingerspell train`: one run = data, split, model, training, reports, all in one run folder.

Run folder contents: model.keras, config.json, metadata.json (the export contract),
history.json + curves.png, val_report.{txt,json} + val_report_confusion.png, and one report per
--eval folder.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fingerspell.errors import DatasetError
from fingerspell.schema import CLASSES, InputSpec, ModelMetadata
from fingerspell_train.augment import AugmentConfig
from fingerspell_train.dataset import (
    Sample,
    class_counts,
    crop_of,
    discover,
    person_of,
    root_notes,
    source_counts,
)
from fingerspell_train.features import (
    default_cache_dir,
    featurize_root,
    load_pixel_arrays,
    lower_in_precision,
    resolve_precision,
)
from fingerspell_train.presets import Preset, build_small_cnn, build_vgg
from fingerspell_train.report import classification_report, plot_history, write_report
from fingerspell_train.split import make_split

MODEL_VERSION = "0.1.0"


@dataclass
class TrainOptions:
    roots: list[Path]
    out_dir: Path
    split: str = "block"
    val_fraction: float = 0.2
    gap: int = 2
    holdout: list[str] = field(default_factory=list)
    backbone_weights: str | None = "imagenet"
    eval_dirs: list[Path] = field(default_factory=list)
    cache_dir: Path | None = None
    seed: int = 0
    command: str = ""
    progress: bool = True
    feature_precision: str = "auto"  # auto: bfloat16 where the CPU has it natively
    overwrite: bool = False  # replace an existing, non-empty run folder


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def one_hot(labels: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    y = np.full((len(labels), len(CLASSES)), smoothing / len(CLASSES), np.float32)
    y[np.arange(len(labels)), labels] += 1.0 - smoothing
    return y


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Inverse-frequency weight per sample, mean 1 (classes absent from training get none)."""
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / (counts > 0).sum(), 0.0)
    return w[labels].astype(np.float32)


def _batches(preset: Preset, n_train: int) -> int:
    if preset.steps_per_epoch:
        return preset.steps_per_epoch
    return math.ceil(n_train / preset.batch_size)


def _sequence(inputs: list[np.ndarray], labels: np.ndarray, preset: Preset, seed: int) -> Any:
    """Batches drawn from one of several views of the training inputs (random view per sample)."""
    import keras

    weights = class_weights(labels) if preset.balance else np.ones(len(labels), np.float32)
    targets = one_hot(labels, preset.label_smoothing)
    steps = _batches(preset, len(labels))

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.on_epoch_end()

        def __len__(self) -> int:
            return steps

        def on_epoch_end(self) -> None:
            need = steps * preset.batch_size
            reps = math.ceil(need / len(labels))
            self.order = np.concatenate([self.rng.permutation(len(labels)) for _ in range(reps)])
            self.views = self.rng.integers(0, len(inputs), len(self.order))

        def __getitem__(self, i: int) -> tuple:
            sl = slice(i * preset.batch_size, (i + 1) * preset.batch_size)
            idx, views = self.order[sl], self.views[sl]
            x = np.empty((len(idx), *inputs[0].shape[1:]), np.float32)
            for v in np.unique(views):
                m = views == v
                x[m] = inputs[v][idx[m]]
            return x, targets[idx], weights[idx]

    return Batches()


class KeepBest:
    """Restore the weights of the epoch with the best validation accuracy (the block split); of
    epochs with the same accuracy, the one with the lowest validation loss (a small validation
    set ties often, and the earliest epoch kept a warm-up epoch whose loss was twice the last's).

    Epochs are counted across training phases: keras numbers each fit() from 1, which made
    `best_epoch` name a warm-up epoch's number for a fine-tuning epoch."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.best = (-1.0, float("inf"))  # (accuracy, loss)
        self.weights: list[np.ndarray] | None = None
        self.epoch = 0  # the kept epoch, 1-based over all phases
        self.seen = 0  # epochs ended so far, over all phases

    def callback(self) -> Any:
        import keras

        outer = self

        class _Cb(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                outer.seen += 1
                acc = (logs or {}).get("val_accuracy", -1.0)
                loss = (logs or {}).get("val_loss", float("inf"))
                if acc > outer.best[0] or (acc == outer.best[0] and loss < outer.best[1]):
                    outer.best, outer.epoch = (acc, loss), outer.seen
                    outer.weights = [w.copy() for w in outer.model.get_weights()]

        return _Cb()

    def restore(self) -> None:
        if self.weights is not None:
            self.model.set_weights(self.weights)


def _convs(model: Any) -> list[Any]:
    """The VGG conv layers of `model` that the preset trains."""
    return [layer for layer in model.layers
            if layer.name.startswith("block") and layer.weights and layer.trainable]


def _phases(preset: Preset, model: Any) -> list[tuple[int, float, bool]]:
    """(epochs, learning rate, VGG convs trainable) per training phase.

    A fresh head's first gradients, at a learning rate fit for the head, wreck pretrained conv
    weights (measured: all of block5 at 3e-4 from the start read 15 % after an epoch, against
    62 % with block5_conv3 alone). So the head warms up on frozen convs first, then everything
    trains at the lower fine-tuning rate.
    """
    if not _convs(model) or not preset.warmup_epochs:
        return [(preset.epochs, preset.learning_rate, True)]
    return [(preset.warmup_epochs, preset.learning_rate, False),
            (preset.epochs, preset.finetune_learning_rate or preset.learning_rate, True)]


def _compile(model: Any, preset: Preset, learning_rate: float | None = None) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate or preset.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(),
                  metrics=["accuracy"])


def predict_batches(model: Any, x: np.ndarray, batch: int = 128) -> np.ndarray:
    out = [np.asarray(model.predict_on_batch(x[i:i + batch].astype(np.float32)))
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


class Trainer:
    """Builds the preset's model and turns samples into the arrays its trainable part eats."""

    def __init__(self, preset: Preset, opts: TrainOptions) -> None:
        self.preset = preset
        self.opts = opts
        self.cache_dir = opts.cache_dir or default_cache_dir()
        self.weights_desc = "n/a"
        if preset.kind == "cnn":
            self.full = build_small_cnn(preset)
            self.trainable = self.full
            self.prefix = None
        else:
            parts = build_vgg(preset)
            self.parts = parts
            self.full = parts.full
            self.weights_desc = _load_weights(parts.full, opts.backbone_weights, preset.preprocess)
            if self.weights_desc == "random-init":  # the seed draws them: part of the cache key
                self.weights_desc += f" (seed {opts.seed})"
            self.precision = resolve_precision(opts.feature_precision)
            self.feature_model = lower_in_precision(lambda: build_vgg(preset).lower, parts.lower,
                                                    self.precision)
            # Layers above the cache that stay frozen run once per image, not once per epoch.
            import keras

            top = parts.top_layers
            k = next((i for i, layer in enumerate(top) if layer.trainable and layer.weights),
                     len(top))
            feat_in = keras.Input(tuple(parts.lower.output.shape[1:]))
            y = feat_in
            for layer in top[:k]:
                y = layer(y)
            self.prefix = keras.Model(feat_in, y) if k else None
            mid = keras.Input(tuple(y.shape[1:]))
            z = mid
            for layer in top[k:]:
                z = layer(z)
            self.trainable = keras.Model(mid, z, name="trainable_top")

    def inputs_for(self, root_samples: list[list[Sample]], views: int) -> tuple[list[np.ndarray],
                                                                                 np.ndarray]:
        """Per view, the trainable part's inputs for all samples (roots concatenated), + ok mask."""
        p = self.preset
        if p.kind == "cnn":
            x, ok = load_pixel_arrays([s for r in root_samples for s in r], p.input_size)
            return [x], ok
        aug = AugmentConfig(seed=self.opts.seed, background=p.background_swap)
        out = []
        ok_all = None
        for view in range(views):
            chunks, oks = [], []
            for samples in root_samples:
                f, ok = featurize_root(samples, self.feature_model, p, self.weights_desc,
                                       self.parts.cache_layer, view, aug, self.cache_dir,
                                       self.opts.progress, self.precision)
                chunks.append(self._apply_prefix(f))
                oks.append(ok)
            out.append(np.concatenate(chunks))
            ok_view = np.concatenate(oks)
            ok_all = ok_view if ok_all is None else ok_all & ok_view
        assert ok_all is not None
        return out, ok_all

    def _apply_prefix(self, feats: np.ndarray) -> np.ndarray:
        if self.prefix is None:
            return np.asarray(feats, np.float16)
        return np.concatenate([np.asarray(self.prefix.predict_on_batch(
            np.asarray(feats[i:i + 256], np.float32))).astype(np.float16)
            for i in range(0, len(feats), 256)])


def _load_weights(model: Any, weights: str | None, preprocess: str) -> str:
    from fingerspell_train.backbone import load_backbone_weights

    return load_backbone_weights(model, weights, preprocess)


def train(preset: Preset, opts: TrainOptions) -> dict[str, Any]:
    """Train `preset` as configured; write the run folder; return the run summary."""
    import keras

    keras.utils.set_random_seed(opts.seed)
    resolve_precision(opts.feature_precision)  # a typo fails now, even for presets without a cache
    final = check_out_dir(opts.out_dir, opts.overwrite)
    crop = crop_of(opts.roots)
    per_root = [discover(r) for r in opts.roots]
    for r, found in zip(opts.roots, per_root, strict=True):
        for line in root_notes(r, found):  # a misspelt or empty class folder: trained without it
            log(f"note: {line}")
    check_eval_dirs(opts.eval_dirs)  # before training, so that a typo costs seconds, not the run
    # Written into a sibling folder and moved into place at the end: a failed or abandoned run
    # never leaves a half-written run folder, nor half-replaces an earlier one.
    out = final.with_name(f".{final.name}.partial")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        summary = _train_into(out, preset, opts, per_root, crop)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    if final.exists():  # empty, or --overwrite: checked before training
        shutil.rmtree(final)
    out.rename(final)
    log(json.dumps(summary))
    return summary


def _train_into(out: Path, preset: Preset, opts: TrainOptions, per_root: list[list[Sample]],
                crop: str) -> dict[str, Any]:
    t0 = time.time()
    samples = [s for r in per_root for s in r]
    split = make_split(samples, opts.split, opts.val_fraction, opts.gap, opts.holdout, opts.seed)
    log(f"{len(samples)} images from {len(per_root)} root(s); split {split.describe()}")
    if split.dropped > len(split.train):  # a few photos of one's own: most were used by neither side
        log(f"note: the block split left {split.dropped} of {len(samples)} images out as "
            "neighbours of validation frames (near-duplicates in a video); for separate still "
            "photos, --gap 0 keeps them")

    trainer = Trainer(preset, opts)
    views = 1 + (preset.augment_views if preset.kind == "vgg" else 0)
    inputs, ok = trainer.inputs_for(per_root, views)
    index = {s.path: i for i, s in enumerate(samples)}
    tr = np.array([index[s.path] for s in split.train if ok[index[s.path]]], int)
    va = np.array([index[s.path] for s in split.val if ok[index[s.path]]], int)
    unreadable = int((~ok).sum())
    if unreadable:
        names = [str(samples[i].path) for i in np.flatnonzero(~ok)[:3]]
        log(f"skipped {unreadable} unreadable image(s): {', '.join(names)}"
            + (", …" if unreadable > 3 else ""))
    labels = np.array([s.label for s in samples], int)
    if unreadable == len(samples):
        raise DatasetError(f"no readable image in {', '.join(map(str, opts.roots))}")
    if len(tr) == 0:
        raise ValueError(f"the split leaves no training images ({split.describe()})")

    seq = _sequence([x[tr] for x in inputs], labels[tr], preset, opts.seed)
    val_data = (inputs[0][va].astype(np.float32), one_hot(labels[va])) if len(va) else None
    best = KeepBest(trainer.trainable)
    hist: dict[str, list[float]] = {}
    convs = _convs(trainer.trainable)
    interrupted = None
    try:
        for epochs, lr, convs_trainable in _phases(preset, trainer.trainable):
            for layer in convs:
                layer.trainable = convs_trainable
            _compile(trainer.trainable, preset, lr)
            trainer.trainable.fit(
                seq, epochs=epochs, validation_data=val_data,
                validation_batch_size=preset.val_batch_size,
                callbacks=[best.callback(), hist_cb(hist)], verbose=2 if opts.progress else 0)
    except KeyboardInterrupt:
        # Ctrl-C ends training, not the run: the best epoch so far is kept and reported.
        done = len(hist.get("loss", []))
        if not done:
            raise KeyboardInterrupt("no epoch had finished: no run folder written") from None
        interrupted = f"after {done} epoch(s), by Ctrl-C"
        log(f"interrupted {interrupted}: keeping epoch {best.epoch or done} and writing the run "
            "folder (Ctrl-C again abandons it)")
    best.restore()

    # the images each side had, as config.json counts them: unreadable ones were in the split
    described = split.describe() | {"train": len(tr), "val": len(va)}
    summary: dict[str, Any] = {"preset": preset.name, "split": described,
                               "best_epoch": best.epoch, "unreadable": unreadable}
    if interrupted:
        summary["interrupted"] = interrupted
    groups = [s.source for s in samples]
    if len(va):
        pred = predict_batches(trainer.trainable, inputs[0][va]).argmax(1)
        rep = classification_report(labels[va], pred, [groups[i] for i in va])
        write_report(rep, out, "val_report", f"{preset.name} validation ({split.method} split)")
        summary["val_accuracy"] = rep["accuracy"]
    for d in opts.eval_dirs:
        rep = evaluate_with(trainer, d)
        name = Path(d).name
        if rep is None:  # the run is kept; an empty report would read as 0 % accuracy
            log(f"skipped --eval {d}: no readable image in it")
            continue
        write_report(rep, out, f"eval_{name}", f"{preset.name} on {d}")
        summary[f"eval_{name}_accuracy"] = rep["accuracy"]

    trainer.full.save(out / "model.keras")
    plot_history(hist, out / "curves.png", preset.name)
    (out / "history.json").write_text(json.dumps(hist, indent=1))
    config = {"preset": preset.to_dict(), "roots": [str(r) for r in opts.roots],
              "split": {"method": opts.split, "val_fraction": opts.val_fraction, "gap": opts.gap,
                        "holdout": opts.holdout, "seed": opts.seed},
              "backbone_weights": trainer.weights_desc, "command": opts.command,
              "class_counts": class_counts(samples), "source_counts": source_counts(samples),
              "train_images": len(tr), "val_images": len(va), "augment_views": views - 1,
              "crop": crop}
    (out / "config.json").write_text(json.dumps(config, indent=1))
    summary["seconds"] = round(time.time() - t0, 1)
    meta = build_metadata(preset, config, summary)
    (out / "metadata.json").write_text(meta.to_json(indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


RUN_MARKERS = ("summary.json", "config.json", "model.keras")


def check_out_dir(out: Path, overwrite: bool) -> Path:
    """The run folder to write: refuse to replace an earlier run unless asked to."""
    out = out.resolve()  # "." and "x/.." have no name to build the partial folder's from
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f"--out {out}: holds files already (an earlier run?); pass "
                             "--overwrite to replace it, or choose another folder")
        # --overwrite deletes the folder: only ever one that a run wrote
        if not any((out / f).is_file() for f in RUN_MARKERS) or Path.cwd().is_relative_to(out):
            raise ValueError(f"--out {out}: not a run folder; --overwrite only replaces one "
                             "written by `fingerspell train`")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.parent / f".{out.name}.probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def check_eval_dirs(folders: list[Path]) -> None:
    """Each --eval folder must be a dataset, and their reports must not overwrite each other."""
    names = [Path(d).name for d in folders]
    for d in folders:
        discover(d)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"--eval folders share the name {dup[0]!r}: their reports (eval_{dup[0]}.*) "
                         "would overwrite each other; copy or link one under another name")


def hist_cb(hist: dict[str, list[float]]) -> Any:
    """Record each finished epoch's logs (an interrupted fit() returns no History)."""
    import keras

    class _Cb(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            for k, v in (logs or {}).items():
                hist.setdefault(k, []).append(float(v))

    return _Cb()


def build_metadata(preset: Preset, config: dict[str, Any], summary: dict[str, Any]
                   ) -> ModelMetadata:
    pre = {"caffe": "caffe: mean (123.68, 116.779, 103.939) subtracted in RGB order; the RGB->BGR "
                    "swap is folded into block1_conv1",
           "rescale": "pixels / 255"}[preset.preprocess]
    return ModelMetadata(
        name=f"fingerspell-{preset.name}",
        version=MODEL_VERSION,
        labels=list(CLASSES),
        input=InputSpec(height=preset.input_size, width=preset.input_size, dtype="float32",
                        crop=config.get("crop", "none")),
        preprocessing_in_model=pre,
        training={"roots": config["roots"], "class_counts": config["class_counts"],
                  "source_counts": config["source_counts"], "split": config["split"],
                  "backbone_weights": config["backbone_weights"], "command": config["command"],
                  "preset": preset.to_dict()},
        metrics={k: v for k, v in summary.items() if k.endswith("accuracy")},
    )


def evaluate_with(trainer: Trainer, folder: Path) -> dict[str, Any] | None:
    """Score a labelled folder with the freshly trained model (through the cache for VGG);
    None when none of its images can be read."""
    samples = discover(folder)
    idx, pred = predict_samples(trainer, [samples])
    if not len(idx):
        return None
    labels = np.array([samples[i].label for i in idx])
    return classification_report(labels, pred, [person_of(samples[i]) for i in idx])


def predict_samples(trainer: Trainer, root_samples: list[list[Sample]],
                    keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 of the trained model on whole roots (cached features, clean view).

    Returns (indices into the concatenated samples, predicted class). `keep` (a bool mask over
    those samples) scores a subset while featurising, and so caching, whole roots.
    """
    inputs, ok = trainer.inputs_for(root_samples, 1)
    idx = np.flatnonzero(ok if keep is None else ok & keep)
    return idx, predict_batches(trainer.trainable, inputs[0][idx]).argmax(1)
