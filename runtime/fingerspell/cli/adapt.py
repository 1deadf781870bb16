"""`fingerspell adapt`: a pose head fitted to your own hand, from a folder of your photos."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from fingerspell.cli.common import HANDS_HELP, fail, interrupted, load_recognizer, path_arg, printable
from fingerspell.errors import FingerspellError


def adapt(
    folder: Path = typer.Argument(..., parser=path_arg,
                                  help="Your photos in a folder per letter: A/, B/, …, space/."),
    out: Path = typer.Option(..., "--out", "-o", parser=path_arg,
                             help="The adapted pose head to write (a .json file)."),
    pose: str = typer.Option("auto", help="The pose head to start from: auto (the bundled one) "
                             "or a pose head .json file."),
    model: Path = typer.Option(None, parser=path_arg,
                               help="A .onnx or .tflite artifact (default: the bundled model)."),
    hands: str = typer.Option("auto", help=HANDS_HELP),
) -> None:
    """Fit the pose head to your hand from a few photos of each letter, in seconds.

    Each photo's hand is found (and in the other views the head reads: its mirror image, the
    photo turned); the head is fine-tuned on them, staying near the one it starts from. Photos
    of every letter A–Z adapt it most; with photos of some letters only (the ones it misreads,
    and those it takes them for), it is adapted to tell those apart, and the other letters keep
    the reading of the head it starts from. It prints how many of your photos read right before
    and after, each read by a head adapted without it. Then read with it:
    fingerspell predict photo.jpg --pose OUT.

    Exit code 0 when every photo was used, 1 when any could not be (each named on stderr; the
    head is still written from the others), 2 usage, 3 the model or pose head cannot be loaded,
    4 FOLDER is not a folder of letters or has no usable photo (nothing is written).

    Example: fingerspell adapt my-letters/ --out my-hand.json
    """
    from fingerspell import adapt as fit
    from fingerspell.cli.predict import PROGRESS_MIN, Progress

    if pose == "none":
        fail("--pose none: adapt needs a pose head to start from (auto or a .json file)", 2)
    _check_out(out)  # found now, not after every photo was read
    rec = load_recognizer(model, None, None, "hand", pose, hands)
    if rec.pose_head is None or rec.pose_path is None:
        fail(f"{rec.path.name}: no pose head for its labels; --pose a head fitted for them", 3)
    if _same_file(out, rec.pose_path):
        fail(f"--out {out}: is the pose head adapted from; write the adapted one elsewhere", 2)
    failed = 0

    def failure(line: str) -> None:
        nonlocal failed
        failed += 1
        typer.echo(f"error: {printable(line)}", err=True)

    try:
        photos, problems = fit.labelled_photos(folder, rec.labels)
    except FingerspellError as exc:  # names the folder
        fail(str(exc), exc.exit_code)
    for line in problems:
        failure(line)
    if not photos:  # photos only beside the letter folders (each named above): no hand to blame
        fail(f"{folder}: no photo in a letter folder (A/, B/, …); nothing written", 4)
    bar = Progress(len(photos)) if len(photos) >= PROGRESS_MIN and sys.stderr.isatty() else None
    try:
        done = fit.adapt(rec, photos, failure, "fingerspell " + " ".join(sys.argv[1:]),
                         bar.step if bar else lambda: None)
    except FingerspellError as exc:
        fail(f"{folder}: {exc}; nothing written", exc.exit_code)
    except KeyboardInterrupt:
        interrupted()
    if bar:
        bar.close()
    try:
        done.head.save(out)
    except OSError as exc:
        fail(f"--out {out}: cannot write ({exc.strerror or exc})", 2)
    letters = [label for label in rec.labels if label not in done.missing]
    start = rec.pose_path.name
    typer.echo(f"{printable(str(folder))}: {len(done.enrolled.names)} photos with a hand, "
               f"{len(letters)} letters ({' '.join(letters)})")
    typer.echo(f"each photo read by a head adapted without it: {done.check.before} of "
               f"{done.check.photos} right with {start}, {done.check.after} adapted")
    worst = done.check.letters_misread()
    if worst:  # where more photos (of the letter, and of what it is taken for) help most
        typer.echo("still read wrong by a head adapted without them: " + ", ".join(
            f"{want} {n} (as {'/'.join(got)})" for want, n, got in worst[:8])
            + (f", and {len(worst) - 8} more letters" if len(worst) > 8 else "")
            + "; more photos of these help most")
    if done.head.adapted_classes is not None:
        typer.echo(f"note: no photos of {' '.join(done.missing)}: adapted to tell apart the "
                   f"letters with photos only; the others keep {start}'s reading", err=True)
    elif done.missing:
        typer.echo(f"note: no photos of {' '.join(done.missing)}: they can read worse adapted",
                   err=True)
    typer.echo(f"wrote {printable(str(out))}: fingerspell predict PHOTO --pose {printable(str(out))}")
    raise typer.Exit(1 if failed else 0)


def _same_file(a: Path, b: Path) -> bool:
    """By the file, not the name: on macOS (and Windows) `Mine.json` is `mine.json`, which a
    comparison of resolved names missed, so adapt wrote over the head it adapted from."""
    try:
        return a.exists() and a.samefile(b)
    except OSError:
        return False


def _check_out(out: Path) -> None:
    """Exit 2 unless --out names a file this user can write: a folder, a missing or unwritable
    folder, a read-only file. pathlib's is_dir() raises PermissionError under a folder the user
    cannot enter, which the CLI took for its output failing (exit 1)."""
    import os

    try:
        if out.is_dir():
            fail(f"--out {out}: is a folder", 2)
        parent = out.parent
        if not parent.is_dir():
            fail(f"--out {out}: no such folder {parent}", 2)
        if out.exists() and not os.access(out, os.W_OK):
            fail(f"--out {out}: cannot write (Permission denied)", 2)
        if not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
            fail(f"--out {out}: cannot write in {parent} (Permission denied)", 2)
    except OSError as exc:
        fail(f"--out {out}: cannot write ({exc.strerror or exc})", 2)
