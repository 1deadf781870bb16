"""What counts as an image file, and the order frames are read in (shared by runtime and training)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
# Phone formats Pillow may not decode: listed from folders so they are reported, not skipped.
PHONE_SUFFIXES = frozenset({".heic", ".heif", ".avif"})


def natural_key(text: str) -> tuple:
    """Sort 'A9' before 'A10': frame numbers in file names order the recording.

    Only ASCII digits count as numbers ('²' is a digit to str.isdigit but not to int). Names that
    would tie ('1' and '01', 'IMG_1' and 'img_1') are ordered by the name itself, so the order never
    depends on the order a folder happens to list them in.
    """
    parts = tuple(int(t) if t.isascii() and t.isdigit() else t.lower()
                  for t in re.split(r"([0-9]+)", text))
    # text apart from the parts: where one name's parts begin the other's ('cam', 'cam2.jpg'),
    # the shorter sorts first, where the text used to meet a number (TypeError)
    return (parts, text)


def class_named(folder_name: str) -> str | None:
    """The class a folder is named after, in any case (`a` is A, `Space` is space), or None."""
    from fingerspell.schema import CLASSES

    return {c.lower(): c for c in CLASSES}.get(folder_name.lower())


def image_files(folder: Path, onerror: Callable[[OSError], None] | None = None) -> list[Path]:
    """Image files (phone formats too) in a folder and its subfolders, unsorted; hidden and
    symlinked folders are not walked. `onerror` gets os.walk's error for a folder it cannot
    list. Shared by training's datasets and `benchmark --data`, so both read a folder alike."""
    found = []
    for top, dirs, names in os.walk(folder, onerror=onerror):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(top) / n for n in names
                     if Path(n).suffix.lower() in IMAGE_SUFFIXES | PHONE_SUFFIXES)
    return found
