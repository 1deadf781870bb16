"""Helpers shared by the CLI verbs: error output and lazy imports of optional extras."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import typer

from fingerspell.errors import FingerspellError


def path_arg(value: str) -> Path:
    """Typer parser of path parameters: an empty one is a usage error (exit 2).

    Path("") is ".", so without it `--out ''` wrote into the current folder and `--calib ''`
    calibrated on it.
    """
    if not str(value).strip():
        raise typer.BadParameter("empty path")
    return Path(value)


def printable(text: str) -> str:
    """Control characters (a newline or a tab in a file name) written as Python escapes them, so
    that one message stays one line and a tab-separated field one field; and the bytes of a name
    that is not UTF-8 as unbytes writes them."""
    if text.isprintable():
        return text
    import unicodedata

    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c
                   for c in unbytes(text))


def unbytes(text: str) -> str:
    """A name's bytes that are not UTF-8 (Python holds them as the surrogates U+DC80-U+DCFF) as
    `\\xNN`, the same on stdout, stderr, CSV and JSON: printed, each became '?', so `café` and
    `cafè` from a Windows zip were both `caf?.jpg`, and JSON held a lone surrogate."""
    if text.isprintable() or not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff"
                   else repr(c)[1:-1] if "\ud800" <= c <= "\udfff" else c for c in text)


def fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {printable(message)}", err=True)
    raise typer.Exit(code)


def emit(text: str, nl: bool = True) -> None:
    """Print a verb's output, or leave quietly (141) if its reader went away."""
    import sys

    try:
        typer.echo(text, nl=nl)
        sys.stdout.flush()
    except OSError as exc:
        if pipe_gone(exc):
            pipe_closed()
        raise


def pipe_gone(exc: BaseException | None) -> bool:
    """Whether a write failed because the reader went away: BrokenPipeError, or on Windows an
    OSError EINVAL, which a closed pipe can give there instead (CPython issue 79935), and which
    read as 'error: standard output: Invalid argument', exit 1."""
    import errno
    import os

    return isinstance(exc, BrokenPipeError) or (
        os.name == "nt" and isinstance(exc, OSError) and exc.errno == errno.EINVAL)


def pipe_closed(now: bool = False) -> NoReturn:
    """`fingerspell … | head`: nobody reads the rest, so stop quietly with the shell's SIGPIPE code
    (128 + 13), not click's 1, which would claim an input failed. `now`: leave at once, as
    interrupted() does, where threads may still be at work: a normal exit waits for downloads
    in flight, and stops with a fatal error while a thread reads stdin (`predict --live - |
    head -1`)."""
    import os
    import sys

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at a later flush
    if now:
        sys.stderr.flush()
        os._exit(141)
    raise typer.Exit(141)


def interrupted() -> NoReturn:
    """Ctrl-C: keep what was printed and leave now (130, as shells report SIGINT). A normal exit
    would first wait for downloads in flight, up to their 30 s deadline each."""
    import os
    import sys

    sys.stdout.flush()
    typer.echo("interrupted", err=True)
    sys.stderr.flush()
    os._exit(130)


def require_extra(module: str, extra: str) -> ModuleType:
    """Import a module of an optional extra, or exit with the install command to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        fail(f"this command needs the '{extra}' extra ({exc.name} is missing): "
             f"pip install 'fingerspell[{extra}]'", 5)


def report_error(exc: FingerspellError) -> NoReturn:
    fail(str(exc), exc.exit_code)


LIVE_HELP = ("Stdin is a live feed (a camera's MJPEG): read the newest image each time, skipping "
             "those that came while the model was busy.")


def check_live(live: bool, sources: list[str]) -> None:
    """--live reads a camera's stream on stdin, and nothing else."""
    if live and sources != ["-"]:
        fail("--live reads a live feed on stdin: give - as the only source "
             "(e.g. rpicam-vid -t 0 --codec mjpeg -o - | fingerspell spell --live -)", 2)


def skipped_note(feed: Any) -> None:
    """What a live feed skipped while the model was busy, said once at the end."""
    if feed is not None and feed.skipped:
        typer.echo(f"note: -: {feed.skipped:,} image{'s' if feed.skipped != 1 else ''} skipped "
                   "while the model was busy (--live)", err=True)


def check_options(threshold: float | None = None, top_k: int | None = None,
                  batch_size: int | None = None, threads: int | None = None,
                  floor: float | None = None, hold: int | None = None) -> None:
    """Exit 2 (usage) on option values that would otherwise be quietly bent into something."""
    for flag, share in (("--threshold", threshold), ("--floor", floor)):
        if share is not None and not 0.0 <= share <= 1.0:  # also refuses nan
            fail(f"{flag} must be between 0 and 1, not {share}", 2)
    from fingerspell.args import MAX_BATCH, count

    # the API's own check, named by the flag: the same bounds and messages, exit 2 here
    for flag, value, most in (("--top-k", top_k, None), ("--batch-size", batch_size, MAX_BATCH),
                              ("--threads", threads, None), ("--hold", hold, None)):
        if value is not None:
            try:
                count(flag, value, most)
            except ValueError as exc:
                fail(str(exc), 2)


def load_recognizer(model: object, backend: str | None, threads: int | None, crop: str = "auto",
                    pose: str = "auto", hands: str = "auto"):
    """A Recognizer for a CLI verb, or a one-line error and its exit code (3, or 5 for --hands
    mediapipe without the extra). A crop that cannot be had is one 'note:' line on stderr, not a
    traceback."""
    import warnings

    from fingerspell.backends import BACKENDS
    from fingerspell.recognizer import CROP_MODES, HAND_ENGINES, Recognizer

    if not pose:
        fail("--pose must be auto, none or a pose head file, not ''", 2)
    if crop not in CROP_MODES:
        fail(f"--crop must be one of {', '.join(CROP_MODES)}, not {crop!r}", 2)
    if hands not in HAND_ENGINES:
        fail(f"--hands must be one of {', '.join(HAND_ENGINES)}, not {hands!r}", 2)
    if backend is not None and backend not in BACKENDS.values():
        fail(f"--backend must be one of {', '.join(sorted(BACKENDS.values()))}, not {backend!r}", 2)
    check_options(threads=threads)
    # Path() ate one of the slashes, and on Windows turned the rest into backslashes
    if str(model or "").replace("\\", "/").lower().startswith(("http:/", "https:/")):
        fail("--model takes a file on this machine, not a URL: download the artifact first", 2)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rec = Recognizer(model, backend=backend, threads=threads, crop=crop,  # type: ignore[arg-type]
                             pose=pose, hands=hands)
    except FingerspellError as exc:
        report_error(exc)
    for w in caught:
        typer.echo(f"note: {printable(str(w.message))}", err=True)
    return rec


POSE_HELP = ("auto: where a hand is found, multiply the network's answer by the bundled pose "
             "head's (MediaPipe's landmarks); none: the network alone; or a pose head .json file.")
CROP_HELP = ("auto: crop around the hand when the model was trained on hand crops; hand: always; "
             "none: whole image.")
HANDS_HELP = ("What finds the hand: auto or onnx, MediaPipe Hands' networks bundled with "
              "fingerspell; mediapipe, MediaPipe itself (the 'hands' extra).")
