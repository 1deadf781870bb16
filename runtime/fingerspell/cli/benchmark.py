"""`fingerspell benchmark`: format, size, accuracy, latency, throughput and memory per artifact."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from fingerspell.cli.common import check_options, emit, fail, interrupted, path_arg, printable


def benchmark(
    data: Path = typer.Option(None, parser=path_arg,
                              help="Labelled folder (one folder per class) to measure accuracy."),
    model: list[Path] = typer.Option([], parser=path_arg,
                                     help="Artifact to measure (repeatable); default: the "
                                          "bundled .onnx and .tflite artifacts."),
    runs: int = typer.Option(50, help="Timed batch-1 runs after 5 warm-up runs."),
    limit: int = typer.Option(0, help="Use at most this many images of --data (0: all)."),
    threads: int = typer.Option(None, help="Inference threads (default: the CPUs available)."),
    floor: float = typer.Option(0.5, help="Accuracy below this is marked ✘."),
    as_json: bool = typer.Option(False, "--json", help="Rows as a JSON list."),
) -> None:
    """Benchmark artifacts: one row each with size, accuracy, latency (p50/p90), throughput, RSS.

    Example: fingerspell benchmark --data ../shared/data/dev/massey --limit 500
    """
    from fingerspell.artifact import bundled_dir, check_readable
    from fingerspell.benchmark import measure_row
    from fingerspell.errors import ModelError
    from fingerspell.handmodels import HAND_MODELS

    models = model or sorted(p for p in bundled_dir().glob("*")
                             if p.suffix in (".onnx", ".tflite") and p.name not in HAND_MODELS)
    if not models:
        fail("no artifacts to benchmark: pass --model", 3)
    if runs < 1:
        fail("--runs must be at least 1", 2)
    if limit < 0:
        fail(f"--limit must be 0 (all) or more, not {limit}", 2)
    check_options(threads=threads, floor=floor)
    if data is not None:  # before minutes of latency runs, not after
        from fingerspell.benchmark import labelled

        try:
            if not data.is_dir():
                fail(f"{data}: not a folder of class folders (A/, B/, …)", 4)
            if not labelled(data, 1, []):
                fail(f"{data}: no images in class folders named like the model's labels (A/, B/, "
                     "…)", 4)
        except OSError as exc:  # a folder this user cannot list, or under one it cannot enter
            fail(f"{data}: cannot list folder ({exc.strerror or exc})", 4)
    from fingerspell.backends import litert as litert_backend

    litert = litert_backend.installed()
    for m in model:  # artifacts named on the command line: the codes predict uses
        try:
            check_readable(m)
        except ModelError as exc:
            fail(str(exc), 3)
        if m.suffix == ".tflite" and not litert:
            fail(f"{m}: {litert_backend.MISSING}", 5)
    if not model and not litert:  # the bundled .tflite needs an extra the default install lacks
        skipped = [m for m in models if m.suffix == ".tflite"]
        models = [m for m in models if m not in skipped]
        for m in skipped:
            typer.echo(f"note: skipping {m.name}: pip install 'fingerspell[litert]' to measure it",
                       err=True)
    rows = []
    try:
        for m in models:
            rows.append(measure_row(m, data, runs=runs, limit=limit, threads=threads, floor=floor))
    except KeyboardInterrupt:  # keep the rows already measured (minutes of work)
        _report(rows, floor, as_json)
        interrupted()
    raise typer.Exit(_report(rows, floor, as_json))


def _report(rows: list, floor: float, as_json: bool) -> int:
    """Print the rows, name what failed on stderr, and return the exit code: the model's code
    (3, as `predict` gives) when an artifact could not be measured, 1 when images could not be
    read, else 0."""
    from fingerspell.benchmark import table

    try:
        if rows:
            emit(json.dumps([asdict(r) for r in rows], indent=1) if as_json else table(rows, floor),
                 nl=as_json)
    finally:  # named even when the table's reader went away
        unreadable: dict[str, None] = {}  # each image once, though every artifact met it
        for r in rows:
            if r.error:
                named = r.error if r.artifact in r.error else f"{r.artifact}: {r.error}"
                typer.echo(f"error: {printable(named)}", err=True)
            unreadable.update(dict.fromkeys(r.failures))
        for reason in unreadable:
            typer.echo(f"error: {printable(reason)}", err=True)
    codes = [r.error_code or 1 for r in rows if r.error]
    return max(codes) if codes else 1 if unreadable else 0
