"""Silence native libraries' chatter on stderr while they start (LiteRT, MediaPipe).

Their C++ logs ('INFO: Created TensorFlow Lite XNNPACK delegate', absl warnings) go straight to
file descriptor 2 and no setting of theirs turns them off, so fd 2 points at /dev/null for the
few calls that print them. Where Python's own sys.stderr writes to fd 2 (the default), that
silences every thread's Python output meanwhile, so it is kept to one-off calls (creating an
interpreter or graph). The CLI moves sys.stderr to a copy of fd 2 first (`keep_python_stderr`),
after which silencing fd 2 can only ever drop native output.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator

_stderr_lock = threading.Lock()
# A fork while another thread has fd 2 on /dev/null would leave the child silenced (and the lock
# held) for good: forks wait for the redirect to end. (Windows has no fork, nor this hook: calling
# it there stopped the runtime from importing at all.)
if hasattr(os, "register_at_fork"):
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


def python_stderr_elsewhere() -> bool:
    """True when Python's sys.stderr does not write to fd 2, so silencing fd 2 loses nothing of it."""
    import sys

    try:
        return sys.stderr is not None and sys.stderr.fileno() != 2
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor: not fd 2
        return True


def keep_python_stderr() -> None:
    """Point sys.stderr at a copy of fd 2 (for the CLI, which owns the process): Python's
    messages then survive any later silencing of fd 2."""
    import sys

    if sys.stderr is None or python_stderr_elsewhere():
        return
    try:
        copy = os.dup(2)
    except OSError:
        return
    # A Windows console is written in UTF-16 through its own class; a plain file on the copy
    # sent it UTF-8 bytes, which the console showed in its code page ('JosÃ©' for 'José').
    console = type(getattr(getattr(sys.stderr, "buffer", None), "raw", None))
    raw = console(copy, "w") if console.__name__ == "_WindowsConsoleIO" else _DroppingFile(copy, "w")
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(raw), line_buffering=True,
                                  encoding=sys.stderr.encoding, errors=sys.stderr.errors)


class _DroppingFile(io.FileIO):
    """The copy of fd 2 behind the CLI's sys.stderr: a line that cannot be written (stderr on a
    full disk) is dropped, not raised into the work it was reporting on, which goes on."""

    def write(self, b: bytes | bytearray | memoryview) -> int:
        try:
            return super().write(b)
        except OSError:
            return memoryview(b).nbytes
