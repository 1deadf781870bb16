"""Expand command-line sources: files, folders (recursive), globs, URLs and `-` for stdin."""

from __future__ import annotations

import glob
import sys
from collections.abc import Iterator
from pathlib import Path

from fingerspell.files import IMAGE_SUFFIXES, natural_key
from fingerspell.sources import is_url


class Stdin(bytes):
    """The bytes read from standard input, named '-' in results."""

    name = "-"


def _natural(p: Path) -> tuple:
    return natural_key(str(p))


def _walk(folder: Path) -> Iterator[Path]:
    """Image files under a folder, recursively, in natural order; symlink loops are not followed."""
    seen: set[Path] = set()
    stack = [folder]
    found: list[Path] = []
    while stack:
        d = stack.pop()
        try:
            real = d.resolve()
            if real in seen:
                continue
            seen.add(real)
            entries = list(d.iterdir())
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir():
                    stack.append(e)
                elif e.suffix.lower() in IMAGE_SUFFIXES:
                    found.append(e)
            except OSError:
                found.append(e)  # reported as a failure when read
    yield from sorted(found, key=_natural)


def expand(args: list[str]) -> list[str | Path | bytes]:
    out: list[str | Path | bytes] = []
    for arg in args:
        if arg == "-":
            out.append(Stdin(sys.stdin.buffer.read()))
        elif is_url(arg):
            out.append(arg)
        elif Path(arg).is_dir():
            out.extend(_walk(Path(arg)))
        elif any(c in arg for c in "*?[") and not Path(arg).exists():
            matches = sorted((Path(m) for m in glob.glob(arg, recursive=True)), key=_natural)
            out.extend(m for m in matches if m.is_file()) if matches else out.append(Path(arg))
        else:
            out.append(Path(arg))
    return out
