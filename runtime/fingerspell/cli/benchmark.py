"""`fingerspell benchmark`: format, size, accuracy, latency, throughput and memory per artifact."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from fingerspell.cli.common import check_options, fail


def benchmark(
    data: Path = typer.Option(None, help="Labelled folder (one folder per class) to measure accuracy."),
    model: list[Path] = typer.Option([], help="Artifact to measure (repeatable); default: the "
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
    from fingerspell.artifact import bundled_dir
    from fingerspell.benchmark import benchmark as run
    from fingerspell.benchmark import table

    models = model or sorted(p for p in bundled_dir().glob("*") if p.suffix in (".onnx", ".tflite"))
    if not models:
        fail("no artifacts to benchmark: pass --model", 3)
    if runs < 1:
        fail("--runs must be at least 1", 2)
    if limit < 0:
        fail(f"--limit must be 0 (all) or more, not {limit}", 2)
    check_options(threads=threads)
    if data is not None:  # before minutes of latency runs, not after
        from fingerspell.benchmark import labelled

        if not data.is_dir():
            fail(f"{data}: not a folder of class folders (A/, B/, …)", 4)
        if not labelled(data, 1):
            fail(f"{data}: no images in class folders named like the model's labels (A/, B/, …)", 4)
    from fingerspell.backends import litert as litert_backend

    litert = litert_backend.installed()
    for m in model:  # artifacts named on the command line: the codes predict uses
        if not m.is_file():
            fail(f"{m}: no such model file", 3)
        if m.suffix == ".tflite" and not litert:
            fail(f"{m}: {litert_backend.MISSING}", 5)
    if not model and not litert:  # the bundled .tflite needs an extra the default install lacks
        skipped = [m for m in models if m.suffix == ".tflite"]
        models = [m for m in models if m not in skipped]
        for m in skipped:
            typer.echo(f"note: skipping {m.name}: pip install 'fingerspell[litert]' to measure it",
                       err=True)
    rows = run(models, data, runs=runs, limit=limit, threads=threads, floor=floor)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        typer.echo(table(rows, floor), nl=False)
    raise typer.Exit(1 if any(r.error for r in rows) else 0)
