"""Turn an ordered sequence of predictions into text.

Letters append; `space` adds a space; `del` removes the last character; `nothing` separates
repeats. A sign held over several frames counts once, so a double letter needs `nothing` (or
another sign) between its two frames. Frames below the confidence threshold are ignored and do
not break a repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real

from fingerspell.results import Failure, Prediction


def spell(predictions: Iterable[Prediction | Failure], threshold: float = 0.5) -> str:
    # numpy scalars are Real too; True is not a threshold
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a number between 0 and 1, not {threshold!r}")
    text: list[str] = []
    last: str | None = None
    for p in predictions:
        if not isinstance(p, Prediction) or p.confidence < threshold:
            continue
        if p.label == last:
            continue
        last = p.label
        if p.label == "nothing":
            continue
        if p.label == "space":
            text.append(" ")
        elif p.label == "del":
            if text:
                text.pop()
        else:
            text.append(p.label)
    return "".join(text)
