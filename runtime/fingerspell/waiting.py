"""Waits that Ctrl-C can end.

Python runs a signal's handler in the main thread, but only once that thread is back in Python
code. A SIGINT that lands just before the main thread blocks on a lock (or that the kernel hands
to another thread) sets the flag without waking it, so a plain `future.result()` or
`thread.join()` would sit out a download's 30 s deadline before KeyboardInterrupt is raised: under
load, 5 of 120 runs of the CLI's Ctrl-C scenario did (docs/hands.md, "What held the Ctrl-C").
The main thread therefore waits in short slices and sees the flag after each; other threads, which
never run handlers, block as before.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import TypeVar

SLICE_S = 0.1  # the longest a Ctrl-C can go unnoticed by a waiting main thread
T = TypeVar("T")


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def result(future: futures.Future[T]) -> T:
    """`future.result()`, interruptible by Ctrl-C in the main thread."""
    if _in_main_thread():
        while not future.done():
            futures.wait((future,), timeout=SLICE_S)
    return future.result()


def join(thread: threading.Thread, timeout: float) -> None:
    """`thread.join(timeout)`, interruptible by Ctrl-C in the main thread."""
    if not _in_main_thread():
        thread.join(timeout)
        return
    end = time.monotonic() + timeout
    while thread.is_alive() and (left := end - time.monotonic()) > 0:
        thread.join(min(SLICE_S, left))
