"""What counts as an image file, and the order frames are read in (shared by runtime and training)."""

from __future__ import annotations

import re

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
