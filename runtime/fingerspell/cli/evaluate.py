"""`fingerspell evaluate`: score a trained Keras model on a labelled folder."""

from __future__ import annotations

from pathlib import Path

import typer

from fingerspell.cli.common import fail, path_arg, report_error, require_extra
from fingerspell.errors import FingerspellError


def evaluate(
    model: Path = typer.Argument(..., parser=path_arg,
                                 help="A model.keras, or the run folder that holds it."),
    folder: Path = typer.Argument(..., parser=path_arg, help="Labelled folder-per-class images."),
    out: Path = typer.Option(None, "--out", "-o", parser=path_arg,
                             help="Where to write the report "
                                  "(default: the model's folder)."),
) -> None:
    """Score a model on a labelled folder: accuracy, per-class report, confusion matrix.

    Example: fingerspell evaluate runs/ship/model.keras ../shared/data/dev/massey
    """
    require_extra("tensorflow", "train")
    from fingerspell_train.evaluate import evaluate_model

    out_dir = out or (model if model.is_dir() else model.parent)
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir}: exists and is not a folder", 2)
    try:
        report = evaluate_model(model, folder, out_dir)
    except FingerspellError as exc:
        report_error(exc)
    except OSError as exc:  # the model and the folder were read: writing the report failed
        fail(f"--out {out_dir}: cannot write the report ({exc.strerror or exc})", 2)
    skipped = f" ({report['unreadable']} unreadable skipped)" if report["unreadable"] else ""
    typer.echo(f"{folder}: accuracy {report['accuracy']:.4f} on {report['n']} images{skipped}")
