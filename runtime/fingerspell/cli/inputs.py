"""Expand command-line sources: files, folders (recursive), globs, URLs and `-` for stdin."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import typer

from fingerspell import stream
from fingerspell.cli import globs
from fingerspell.cli.common import printable
from fingerspell.files import LOOKED_FOR, VIDEO_SUFFIXES, is_hidden, is_image_name, natural_key
from fingerspell.formats import frames_hint
from fingerspell.sources import MAX_STREAM_BYTES, BadSource, is_url

MAX_GLOB_MATCHES = 100_000


class Stdin(bytes):
    """An image read from standard input, named '-' in results, or '-[2]' where several came."""

    name = "-"


class StdinImages:
    """What `-` names: the images on standard input, read one at a time as they arrive (a
    camera's or ffmpeg's stream of JPEGs: fingerspell.stream). `single` is the image once it
    turns out to be the only one, for predict's note on an animated one. A live feed numbers its
    first image at once: naming it '-' if alone would wait for the next."""

    name = "-"

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.single: Stdin | None = None
        self.live = False

    def __iter__(self) -> Iterator[Stdin | BadSource]:
        try:
            yield from self._images(stream.images(self.fp, MAX_STREAM_BYTES, "stdin"))
        except OSError as exc:  # e.g. stdin is a directory
            yield BadSource("-", f"cannot read standard input ({exc.strerror or exc})")

    def _images(self, parts: Iterator[bytes | stream.Problem]) -> Iterator[Stdin | BadSource]:
        first = next(parts, b"")
        after: list[bytes | stream.Problem] = []
        if isinstance(first, bytes) and first and not self.live:
            second = next(parts, None)
            if second is not None:
                after = [second]
            if isinstance(second, bytes) and stream.stored_after(first, second):
                third = next(parts, None)  # a smaller picture last: the photo's preview or gain map
                after = [] if third is None else [second, third]
        if not first or (not after and not self.live):  # one image, or nothing: '-' as always
            if isinstance(first, stream.Problem):
                yield BadSource("-", first)
            else:
                self.single = Stdin(first)
                yield self.single
            return
        number = 0
        for part in itertools.chain([first], after, parts):
            if isinstance(part, stream.Problem) and not part.frame:
                yield BadSource("-", part)  # bytes between images, skipped
                continue
            number += 1
            if isinstance(part, stream.Problem):  # one too large to read, in its place
                yield BadSource(f"-[{number}]", part)
                continue
            img = Stdin(part)
            img.name = f"-[{number}]"
            yield img


def read(items: Iterable, live: bool = False) -> Iterator:
    """The sources in order, stdin's images in the place of its `-` (a live feed's numbered
    from the first)."""
    for item in items:
        if isinstance(item, StdinImages):
            item.live = live
            yield from item
        else:
            yield item


def _natural(p: Path) -> tuple:
    return natural_key(str(p))


def _walk(folder: Path) -> Iterator[Path | BadSource]:
    """Image files under a folder, recursively, in natural order.

    Symlinked folders inside it are not followed (as `find`, `ls -R` and the `**` of globs do
    not): through a link to `/` (`/proc/self/root`) the walk took in the whole machine. Each one
    is named in a note, so no photo is left out unsaid; a link given as the argument itself is
    followed. Hidden names are skipped, as `ls` and the shell's `*` skip them (files.is_hidden:
    macOS's `._` files beside each photo are not images). A folder that cannot be listed, a
    folder with no image at all and a tree of more than globs.MAX_FOLDERS folders come back as
    BadSource, so they are reported instead of silently skipped or walked for hours.
    """
    stack = [folder]
    found: list[Path | BadSource] = []
    listed = videos = 0
    while stack:
        d = stack.pop()
        listed += 1
        if listed > globs.MAX_FOLDERS:
            yield BadSource(str(folder), f"holds more than {globs.MAX_FOLDERS:,} folders; give a "
                            "narrower folder")
            return
        try:
            entries = list(d.iterdir())
        except OSError as exc:
            found.append(BadSource(str(d), f"cannot list folder ({exc.strerror or exc})"))
            continue
        for e in entries:
            if is_hidden(e.name):
                continue
            try:
                if e.is_symlink() and e.is_dir():
                    typer.echo(f"note: {printable(str(e))}: a linked folder, not walked; give it "
                               "by name to read it", err=True)
                elif e.is_dir():
                    stack.append(e)
                elif is_image_name(e.name):
                    found.append(e)
                elif e.suffix.lower() in VIDEO_SUFFIXES:
                    videos += 1
            except OSError:
                found.append(e)  # reported as a failure when read
    if not found and videos:
        found.append(BadSource(str(folder), f"no image files in this folder, only {videos:,} "
                               f"video(s): {frames_hint('them')}"))
    elif not found:
        found.append(BadSource(str(folder), f"no image files in this folder (looked for {LOOKED_FOR})"))
    yield from sorted(found, key=_natural)


def _probe(check: Callable[[], bool]) -> bool:
    """Path.is_dir()/exists() raise for a name too long or a parent without search permission;
    such a path is then read as a file, whose error names it."""
    try:
        return check()
    except OSError:
        return False


class _Fd:
    """Standard input read by its descriptor: a thread blocked in sys.stdin.buffer's read holds
    its lock, and any exit of the program meanwhile (a full disk on stdout) stopped with
    'Fatal Python error: could not acquire lock for <stdin>'."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read1(self, n: int) -> bytes:
        return os.read(self.fd, n)

    read = read1


def _stdin() -> StdinImages | BadSource:
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        return BadSource("-", "standard input is closed")
    try:
        return StdinImages(_Fd(sys.stdin.fileno()))  # type: ignore[arg-type]
    except (OSError, ValueError):  # no descriptor (a test runner's stdin)
        return StdinImages(sys.stdin.buffer)


def _expand_glob(pattern: str) -> list[Path | BadSource]:
    """Matches in natural order, as the shell would expand them: folders are walked too, but no
    file is read twice (`photos/**` matches every subfolder as well as their files)."""
    unlisted: list[tuple[str, OSError]] = []
    try:
        found = list(islice(globs.paths(pattern, unlisted), MAX_GLOB_MATCHES + 1))
    except globs.TooWide:
        return [BadSource(pattern, f"lists more than {globs.MAX_FOLDERS:,} folders; give the folder "
                          "itself, or a narrower pattern")]
    if len(found) > MAX_GLOB_MATCHES:
        return [BadSource(pattern, f"matches more than {MAX_GLOB_MATCHES:,} paths; "
                          "give the folder itself, which is walked once")]
    matches = sorted(map(Path, found), key=_natural)
    locked = [BadSource(d, f"cannot list folder ({exc.strerror or exc})")
              for d, exc in dict(unlisted).items()]  # a folder listed twice is said once
    if not matches:
        return locked or [BadSource(pattern, "no files match")]
    walked: set[Path] = set()
    seen: set[Path] = set()
    out: list[Path | BadSource] = []
    for m in matches:
        real = _real(m)
        if walked.intersection((real, *real.parents)):
            continue  # inside a folder already walked
        if _probe(m.is_dir):
            walked.add(real)
            files = list(_walk(m))
        else:
            files = [m]
        for f in files:
            key = f if isinstance(f, BadSource) else _real(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    # a locked folder the pattern matched was walked, and named there already (BadSource is its name)
    return out + [b for b in locked if b not in seen]


def _real(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: kept under its own name, read as a failure
        return p


def expand(args: list[str]) -> list[str | Path | StdinImages]:
    """The sources as given, folders and globs expanded; stdin is read when `read` reaches it."""
    out: list[str | Path | StdinImages] = []
    stdin_read = False
    for arg in args:
        if arg == "-" and stdin_read:
            out.append(BadSource(arg, "standard input was already read by an earlier '-'"))
        elif arg == "-":
            out.append(_stdin())
            stdin_read = True
        elif not arg.strip():
            out.append(BadSource(arg, "empty path"))  # Path("") is ".": never walk the cwd
        elif is_url(arg):
            out.append(arg)
        elif _probe(Path(arg).is_dir):
            out.extend(_walk(Path(arg)))
        elif any(c in arg for c in "*?[") and not _probe(Path(arg).exists):
            out.extend(_expand_glob(arg))
        else:
            out.append(Path(arg))
    return out
