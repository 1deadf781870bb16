"""Turn an ordered sequence of predictions into text.

Letters append; `space` adds a space; `del` removes the last character; `nothing` separates
repeats. A sign held over several frames counts once, so a double letter needs `nothing` (or
another sign) between its two frames. Frames below the confidence threshold are ignored and do
not break a repeat. With `hold` above 1, a sign counts only once it has been read in that many
confident frames in a row: a video's frames between two signs can read as a third, briefly.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real

from fingerspell.args import count
from fingerspell.results import Failure, Prediction


def spell(predictions: Iterable[Prediction | Failure], threshold: float = 0.5, hold: int = 1
          ) -> str:
    speller = Speller(threshold, hold)
    for p in predictions:
        speller.add(p)
    return speller.text


class Speller:
    """The text so far, a frame at a time (what `fingerspell spell` shows while it reads)."""

    def __init__(self, threshold: float = 0.5, hold: int = 1) -> None:
        # numpy scalars are Real too; True is not a threshold
        if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a number between 0 and 1, not {threshold!r}")
        self.threshold = threshold
        self.hold = count("hold", hold)
        self._chars: list[str] = []
        self._last: str | None = None  # the sign counted last
        self._run: tuple[str | None, int] = (None, 0)  # the sign read now, in how many frames

    @property
    def text(self) -> str:
        return "".join(self._chars)

    def add(self, p: Prediction | Failure) -> None:
        if not isinstance(p, Prediction) or p.confidence < self.threshold:
            return
        label, frames = self._run
        self._run = (p.label, frames + 1 if p.label == label else 1)
        if self._run[1] != self.hold or p.label == self._last:
            return
        self._last = p.label
        if p.label == "space":
            self._chars.append(" ")
        elif p.label == "del":
            if self._chars:
                self._chars.pop()
        elif p.label != "nothing":
            self._chars.append(p.label)
