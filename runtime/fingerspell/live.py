"""The newest of a live feed's items, for `--live`: a camera sends 30 frames a second and a
Raspberry Pi reads one or two, so reading every frame in turn falls further behind the signer
with each one. Here a thread keeps reading the feed, and each ask gets the newest frame; those
that came in meanwhile are skipped (and counted).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from fingerspell.waiting import SLICE_S

if TYPE_CHECKING:
    from fingerspell.recognizer import Recognizer
    from fingerspell.results import Failure, Prediction

T = TypeVar("T")
_NONE = object()


class Newest(Generic[T]):
    """Iterate for the newest item each time; `skipped` counts those never handed out.

    The reading thread is a daemon: Ctrl-C or the end of the program never waits on a feed
    that is still open.
    """

    def __init__(self, feed: Iterable[T]) -> None:
        self.skipped = 0
        self._slot: object = _NONE
        self._done = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(feed,), daemon=True,
                         name="fingerspell-live").start()

    def _read(self, feed: Iterable[T]) -> None:
        try:
            for item in feed:
                with self._cond:
                    if self._slot is not _NONE:
                        self.skipped += 1
                    self._slot = item
                    self._cond.notify()
        except BaseException as exc:  # the feed's own error, raised to the reader of the items
            self._error = exc
        with self._cond:
            self._done = True
            self._cond.notify()

    def _ready(self) -> bool:
        return self._slot is not _NONE or self._done

    def __iter__(self) -> Iterator[T]:
        while True:
            with self._cond:
                # in slices: a Ctrl-C that lands just before the wait is seen (fingerspell.waiting)
                while not self._cond.wait_for(self._ready, timeout=SLICE_S):
                    pass
                if self._slot is _NONE:
                    if self._error is not None:
                        raise self._error
                    return
                item, self._slot = self._slot, _NONE
            yield item  # type: ignore[misc]


def answers(rec: Recognizer, feed: Newest, top_k: int | None = None
            ) -> Iterator[Prediction | Failure]:
    """An answer for each image the feed hands out, each read alone as soon as it is taken:
    predict_many's look-ahead would read frames queued before it, already behind."""
    for source in feed:
        yield from rec.predict_many([source], top_k=top_k, batch_size=1, workers=1)
