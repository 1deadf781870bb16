"""`fingerspell spell`: the text spelled by a sequence of photos."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from fingerspell.cli.common import (
    CROP_HELP,
    HANDS_HELP,
    POSE_HELP,
    check_options,
    emit,
    interrupted,
    load_recognizer,
    path_arg,
    printable,
)
from fingerspell.cli.inputs import expand
from fingerspell.frames import each_frame
from fingerspell.results import Failure
from fingerspell.spell import spell as spell_text


def spell(
    sources: list[str] = typer.Argument(..., help="Images in order: files, a folder (natural name "
                                        "order), globs, URLs; animated images frame by frame."),
    threshold: float = typer.Option(0.5, help="Frames below this confidence are ignored."),
    model: Path = typer.Option(None, parser=path_arg,
                               help="A .onnx or .tflite artifact (default: the bundled model)."),
    backend: str = typer.Option(None, help="onnxruntime or litert (default: from the file)."),
    threads: int = typer.Option(None, help="Inference threads."),
    crop: str = typer.Option("auto", help=CROP_HELP),
    pose: str = typer.Option("auto", help=POSE_HELP),
    hands: str = typer.Option("auto", help=HANDS_HELP),
) -> None:
    """Spell text from an ordered sequence of images.

    Letters append, 'space' adds a space, 'del' deletes the last character, 'nothing' separates
    repeated letters (a sign held over several frames counts once).

    Example: fingerspell spell frames/  (frames/001.jpg, frames/002.jpg, …); an animated GIF,
    WebP or PNG is read frame by frame: fingerspell spell word.gif
    """
    check_options(threshold=threshold)
    rec = load_recognizer(model, backend, threads, crop, pose, hands)
    results: list = []
    counting = _on_terminal()  # a GIF of 2,000 frames takes minutes: say how far it got
    try:
        for r in rec.predict_many(each_frame(expand(sources))):
            results.append(r)
            if counting and len(results) % 10 == 0:
                sys.stderr.write(f"\r{len(results):,} images read")
                sys.stderr.flush()
    except KeyboardInterrupt:
        _wipe(counting, len(results))
        text = spell_text(results, threshold)
        if text:  # what was spelled before Ctrl-C is kept, as predict keeps its rows
            emit(text)
        interrupted()
    _wipe(counting, len(results))
    failures = [r for r in results if isinstance(r, Failure)]
    for f in failures:
        typer.echo(f"error: {printable(f.error)}", err=True)
    emit(spell_text(results, threshold))
    raise typer.Exit(1 if failures else 0)


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def _wipe(counting: bool, read: int) -> None:
    """The count gone from the terminal before the answer (or `interrupted`) is printed."""
    if counting and read >= 10:
        sys.stderr.write("\r" + " " * 24 + "\r")
        sys.stderr.flush()
