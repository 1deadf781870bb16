"""`fingerspell spell`: the text spelled by a sequence of photos."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from fingerspell.cli.common import (
    CROP_HELP,
    HANDS_HELP,
    LIVE_HELP,
    POSE_HELP,
    check_live,
    check_options,
    emit,
    interrupted,
    load_recognizer,
    path_arg,
    printable,
    skipped_note,
)
from fingerspell.cli.inputs import StdinImages, expand, read
from fingerspell.frames import each_frame
from fingerspell.live import Feed
from fingerspell.live import answers as live_answers
from fingerspell.results import Failure
from fingerspell.spell import Speller


def spell(
    sources: list[str] = typer.Argument(..., help="Images in order: files, a folder (natural name "
                                        "order), globs, URLs, - for images on stdin (ffmpeg's "
                                        "image2pipe); animated images frame by frame."),
    threshold: float = typer.Option(0.5, help="Frames below this confidence are ignored."),
    hold: int = typer.Option(1, help="A sign counts once read in this many frames in a row: a "
                             "video's frames between two signs can read as a third, briefly."),
    live: bool = typer.Option(False, "--live", help=LIVE_HELP),
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
    WebP or PNG is read frame by frame: fingerspell spell word.gif; a camera, live:
    rpicam-vid -t 0 --codec mjpeg -o - | fingerspell spell --live -
    """
    check_options(threshold=threshold, hold=hold)
    check_live(live, sources)
    rec = load_recognizer(model, backend, threads, crop, pose, hands)
    speller = Speller(threshold, hold)
    failures: list[Failure] = []
    shown = Shown(_on_terminal(), every=1 if live else 10)  # a GIF of 2,000 frames takes minutes
    items = expand(sources)
    feed = Feed(read(items, live=True), newest=True) if live else None
    # stdin's images are read by a thread, so those that have come are answered (and spelled,
    # and kept on Ctrl-C) without waiting for the next
    frames = each_frame(read(items))
    if any(isinstance(i, StdinImages) for i in items) and not live:
        frames = Feed(frames)
    try:
        for r in (live_answers(rec, feed) if feed else rec.predict_many(frames)):
            speller.add(r)
            if isinstance(r, Failure):
                failures.append(r)
            shown.step(speller)
    except KeyboardInterrupt:
        shown.wipe()
        skipped_note(feed)
        if speller.text:  # what was spelled before Ctrl-C is kept, as predict keeps its rows
            emit(speller.text)
        interrupted()
    shown.wipe()
    for f in failures:
        typer.echo(f"error: {printable(f.error)}", err=True)
    skipped_note(feed)
    emit(speller.text)
    raise typer.Exit(1 if failures else 0)


def _on_terminal() -> bool:
    return sys.stderr.isatty()


class Shown:
    """How far the reading got and the text so far, on one line of a terminal, wiped before the
    answer (or `interrupted`) is printed."""

    def __init__(self, on: bool, every: int) -> None:
        self.on, self.every, self.read, self.width = on, every, 0, 0

    def step(self, speller: Speller) -> None:
        self.read += 1
        if self.on and self.read % self.every == 0:
            text = speller.text  # joined only when shown: a long feed's text is not rebuilt each frame
            read = f"{self.read:,} image{'s' if self.read != 1 else ''} read"
            line = f"{read}: {text[-40:]}" if text else read
            sys.stderr.write("\r" + line.ljust(self.width))
            sys.stderr.flush()
            self.width = len(line)

    def wipe(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0
