"""Silence native libraries' chatter on stderr while they start (LiteRT, MediaPipe).

Their C++ logs ('INFO: Created TensorFlow Lite XNNPACK delegate', absl warnings) go straight to
file descriptor 2 and no setting of theirs turns them off, so fd 2 points at /dev/null for the
few calls that print them. That silences the whole process meanwhile, so it is kept to one-off
calls (creating an interpreter or graph), never to every prediction.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

_stderr_lock = threading.Lock()
# A fork while another thread has fd 2 on /dev/null would leave the child silenced (and the lock
# held) for good: forks wait for the redirect to end.
os.register_at_fork(before=_stderr_lock.acquire, after_in_parent=_stderr_lock.release,
                    after_in_child=_stderr_lock.release)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """fd 2 on /dev/null for the duration (one at a time; forks wait)."""
    with _stderr_lock:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to silence
            yield
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
