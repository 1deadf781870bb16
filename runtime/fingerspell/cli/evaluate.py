"""`fingerspell evaluate`: score a trained Keras model on a labelled folder."""

from __future__ import annotations

from pathlib import Path

import typer

from fingerspell.cli.common import fail, report_error, require_extra
from fingerspell.errors import FingerspellError


def evaluate(
    model: Path = typer.Argument(..., help="A model.keras from a run folder."),
    folder: Path = typer.Argument(..., help="Labelled folder-per-class images."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the report "
                             "(default: the model's folder)."),
) -> None:
    """Score a model on a labelled folder: accuracy, per-class report, confusion matrix.

    Example: fingerspell evaluate runs/ship/model.keras ../shared/data/dev/massey
    """
    require_extra("tensorflow", "train")
    from fingerspell_train.evaluate import evaluate_model

    try:
        report = evaluate_model(model, folder, out or model.parent)
    except FingerspellError as exc:
        report_error(exc)
    except (ValueError, OSError) as exc:
        fail(f"{model}: {exc}", 3)
    typer.echo(f"{folder}: accuracy {report['accuracy']:.4f} on {report['n']} images")
