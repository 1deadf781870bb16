"""`fingerspell predict`: the letter in each photo."""

from __future__ import annotations

import csv
import json
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
    fail,
    interrupted,
    load_recognizer,
    path_arg,
    pipe_closed,
    pipe_gone,
    printable,
    skipped_note,
    unbytes,
)
from fingerspell.cli.inputs import StdinImages, expand, read
from fingerspell.live import Feed
from fingerspell.live import answers as live_answers
from fingerspell.results import Failure, Prediction

PROGRESS_MIN = 20  # show a progress bar on stderr from this many inputs


def predict(
    sources: list[str] = typer.Argument(..., help="Image files, folders (recursive), globs, http(s) "
                                        "URLs, or - for the image(s) on stdin."),
    top_k: int = typer.Option(1, "--top-k", "-k", help="Show the k most likely classes."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line (JSON Lines)."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV with a header row."),
    threshold: float = typer.Option(0.0, help="Below this confidence the label is reported as "
                                    "'unsure'."),
    model: Path = typer.Option(None, parser=path_arg,
                               help="A .onnx or .tflite artifact (default: the bundled model)."),
    backend: str = typer.Option(None, help="onnxruntime or litert (default: from the file)."),
    threads: int = typer.Option(None, help="Inference threads (default: the CPUs available)."),
    crop: str = typer.Option("auto", help=CROP_HELP),
    pose: str = typer.Option("auto", help=POSE_HELP),
    hands: str = typer.Option("auto", help=HANDS_HELP),
    batch_size: int = typer.Option(8, help="Images per inference call for folders."),
    live: bool = typer.Option(False, "--live", help=LIVE_HELP),
) -> None:
    """Print the letter and confidence for each input.

    Exit code 0 when every input succeeded, 1 when any failed (all others are still reported),
    2 for a bad option, 3 when the model cannot be loaded, 5 when an extra it needs is not
    installed, 141 when the reader of the output went away (`| head`), 130 on Ctrl-C (what was
    printed stays).

    Example: fingerspell predict photo.jpg photos/ 'shots/*.png' https://example.org/a.jpg
    """
    if as_json and as_csv:
        fail("--json and --csv cannot be combined", 2)
    check_options(threshold=threshold, top_k=top_k, batch_size=batch_size)
    check_live(live, sources)
    rec = load_recognizer(model, backend, threads, crop, pose, hands)
    items = expand(sources)
    stdin = next((i for i in items if isinstance(i, StdinImages)), None)
    feed = Feed(read(items, live=True), newest=True) if live else None
    # stdin's images are read by a thread, so those that have come are answered without
    # waiting for the next (a camera's, a stalled pipe's)
    results = (live_answers(rec, feed, top_k) if feed else
               rec.predict_many(Feed(read(items)) if stdin else read(items), top_k=top_k,
                                batch_size=batch_size))
    if as_csv and hasattr(sys.stdout, "reconfigure"):
        # csv ends rows in CR LF itself; Windows' stdout made that CR CR LF, a blank row after
        # each in Excel and csv.reader. Untranslated, the bytes are what Linux always wrote.
        sys.stdout.reconfigure(newline="")
    writer = csv.writer(sys.stdout) if as_csv else None
    if writer:
        writer.writerow(["source", "label", "confidence", "error"])
    failed = 0
    # stdin may hold any number of images: a bar needs a total
    bar = Progress(len(items)) if (len(items) >= PROGRESS_MIN and stdin is None
                                   and sys.stderr.isatty()) else None
    try:
        for r in results:
            if isinstance(r, Failure):
                failed += 1
                _emit_failure(r, as_json, writer)
            else:
                _emit(r, threshold, as_json, writer, top_k)
                _first_frame_note(stdin.single if r.source == "-" and stdin and stdin.single
                                  else r.source)
            if bar:
                bar.step()
        sys.stdout.flush()
    except OSError as exc:
        if pipe_gone(exc):
            pipe_closed(now=True)
        raise
    except KeyboardInterrupt:
        skipped_note(feed)
        interrupted()
    if bar:
        bar.close()
    skipped_note(feed)
    raise typer.Exit(1 if failed else 0)


class Progress:
    """A one-line progress bar on stderr (only drawn on a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def step(self) -> None:
        self.done += 1
        filled = 30 * self.done // self.total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def _label(r: Prediction, threshold: float) -> str:
    return r.label if r.confidence >= threshold else "unsure"


def _emit(r: Prediction, threshold: float, as_json: bool, writer, top_k: int) -> None:
    if as_json:
        d = r.to_dict()
        d["source"] = unbytes(d["source"])
        d["unsure"] = r.confidence < threshold
        typer.echo(json.dumps(d))
    elif writer:
        writer.writerow([unbytes(r.source), _label(r, threshold), f"{r.confidence:.4f}", ""])
    else:
        extra = "  " + "  ".join(f"{lab} {s:.3f}" for lab, s in r.top_k[1:]) if top_k > 1 else ""
        typer.echo(f"{printable(r.source)}\t{_label(r, threshold)}\t{r.confidence:.3f}{extra}")


def _first_frame_note(source: str | bytes) -> None:
    """An animated image is read by its first frame here; `spell` reads every frame."""
    from fingerspell.frames import MAX_FRAMES, frame_count
    from fingerspell.sources import describe

    count = frame_count(source)  # 1 at once for a name no animated image has
    source = describe(source)
    if count > MAX_FRAMES:
        typer.echo(f"note: {printable(source)}: more than {MAX_FRAMES:,} frames, the first read; "
                   f"`fingerspell spell` reads the first {MAX_FRAMES:,}", err=True)
    elif count > 1:
        typer.echo(f"note: {printable(source)}: {count:,} frames, the first read; `fingerspell "
                   "spell` reads them all", err=True)


def _emit_failure(r: Failure, as_json: bool, writer) -> None:
    typer.echo(f"error: {printable(r.error)}", err=True)
    if as_json:
        d = r.to_dict()
        d.update(source=unbytes(d["source"]), error=unbytes(d["error"]))
        typer.echo(json.dumps(d))
    elif writer:
        writer.writerow([unbytes(r.source), "", "", unbytes(r.error)])
