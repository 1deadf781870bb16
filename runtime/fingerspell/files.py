"""What counts as an image file, and the order frames are read in (shared by runtime and training)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

# .jfif and .jpe are JPEGs by other names (browsers on Windows save downloads as .jfif).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".bmp", ".webp", ".gif",
                            ".tif", ".tiff"})
# Phone formats Pillow may not decode: listed from folders so they are reported, not skipped.
PHONE_SUFFIXES = frozenset({".heic", ".heif", ".avif"})
# What a folder of no images is said to lack.
LOOKED_FOR = ", ".join(sorted(IMAGE_SUFFIXES | PHONE_SUFFIXES))
# Videos are not read; a folder holding only these is told how to take frames from them.
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv", ".3gp"})


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


def is_hidden(name: str) -> bool:
    """A name folder walks skip, as `ls` and the shell's `*` do: dot-files and dot-folders, which
    include macOS's `._IMG_1.jpg` (AppleDouble metadata beside each photo on a USB stick or in a
    zip, not an image), and the `__MACOSX` folder of such metadata that unzipping leaves."""
    return name.startswith(".") or name == "__MACOSX"


def class_named(folder_name: str) -> str | None:
    """The class a folder is named after, in any case (`a` is A, `Space` is space), or None."""
    from fingerspell.schema import CLASSES

    return {c.lower(): c for c in CLASSES}.get(folder_name.lower())


def is_image_name(name: str) -> bool:
    """A file a folder walk reads: an image or phone-format suffix, and not hidden."""
    return not is_hidden(name) and Path(name).suffix.lower() in IMAGE_SUFFIXES | PHONE_SUFFIXES


def image_files(folder: Path, onerror: Callable[[OSError], None] | None = None) -> list[Path]:
    """Image files (phone formats too) in a folder and its subfolders, unsorted; hidden names
    (is_hidden) and symlinked folders are not walked. `onerror` gets os.walk's error for a
    folder it cannot list. Shared by training's datasets, `adapt` and `benchmark --data`, so
    all read a folder alike."""
    found = []
    for top, dirs, names in os.walk(folder, onerror=onerror):
        dirs[:] = [d for d in dirs if not is_hidden(d)]
        found.extend(Path(top) / n for n in names if is_image_name(n))
    return found
