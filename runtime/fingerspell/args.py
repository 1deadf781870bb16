"""Checks of the public API's count arguments (top_k, batch_size, workers, threads)."""

from __future__ import annotations

import operator
from typing import Any

# Bounds where a larger value only ever fails deep inside (islice refuses 2**63) or exhausts memory
MAX_BATCH = 4096
MAX_WORKERS = 256


def count(name: str, value: Any, most: int | None = None) -> int:
    """A whole number >= 1 (and <= most), else ValueError naming the argument: 0, -1, True or
    2.5 would otherwise be bent into something, or fail only after inference."""
    try:
        if isinstance(value, bool):  # True is an int to Python, not a count
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be at least 1, not {n}")
    if most is not None and n > most:
        raise ValueError(f"{name} must be at most {most}, not {n}")
    return n
