"""What counts as an image file, and the order frames are read in (shared by runtime and training)."""

from __future__ import annotations

import re

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})


def natural_key(text: str) -> tuple:
    """Sort 'A9' before 'A10': frame numbers in file names order the recording."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text))
