"""Reading a feed (stdin's images) in a thread of its own. For `--live`: a camera sends 30
frames a second and a Raspberry Pi reads one or two, so reading every frame in turn falls further
behind the signer with each one; here each ask gets the newest frame, and those that came in
meanwhile are skipped (and counted). Without it, every frame is read, but those that have come
are answered without waiting for the next.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from fingerspell.waiting import SLICE_S

if TYPE_CHECKING:
    from fingerspell.recognizer import Recognizer
    from fingerspell.results import Failure, Prediction

T = TypeVar("T")


class Feed(Generic[T]):
    """A feed read by a thread of its own, so that reading it never holds up its reader.

    newest=True (`--live`): each ask gets the newest item; those that came meanwhile are skipped,
    and `skipped` counts them. newest=False: every item in order, up to `ahead` read ahead; and
    `ready()` says whether the next is in hand, so that predict_many answers the images that
    have come instead of waiting on a stalled pipe or a slow camera for the next.
    The thread is a daemon: Ctrl-C or the end of the program never waits on a feed still open.
    """

    def __init__(self, feed: Iterable[T], newest: bool = False, ahead: int = 4) -> None:
        self.newest, self.ahead, self.skipped = newest, ahead, 0
        self._items: deque[T] = deque()
        self._done = self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(feed,), daemon=True,
                         name="fingerspell-feed").start()

    def _read(self, feed: Iterable[T]) -> None:
        try:
            for item in feed:
                with self._cond:
                    if self.newest and self._items:
                        self._items.clear()
                        self.skipped += 1
                    while len(self._items) >= self.ahead and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    self._items.append(item)
                    self._cond.notify_all()
        except BaseException as exc:  # the feed's own error, raised to the reader of the items
            self._error = exc
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def close(self) -> None:
        """Stop reading: the thread ends once the item it waits for comes (a read it is blocked
        in cannot be interrupted), or at once where it waits to hand one on."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    def ready(self) -> bool:
        with self._cond:
            return bool(self._items) or self._done

    def __iter__(self) -> Feed[T]:
        return self

    def __next__(self) -> T:
        with self._cond:
            # in slices: a Ctrl-C that lands just before the wait is seen (fingerspell.waiting)
            while not self._cond.wait_for(self._has_next, timeout=SLICE_S):
                pass
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            raise StopIteration

    def _has_next(self) -> bool:  # with the lock held
        return bool(self._items) or self._done


def answers(rec: Recognizer, feed: Feed, top_k: int | None = None
            ) -> Iterator[Prediction | Failure]:
    """An answer for each image the feed hands out, each read alone as soon as it is taken:
    predict_many's look-ahead would read frames queued before it, already behind."""
    for source in feed:
        yield from rec.predict_many([source], top_k=top_k, batch_size=1, workers=1)
