"""Shell-style globs for the CLI's sources that end: `**` does not follow symlinked folders, and
a pattern may list only so many folders."""

from __future__ import annotations

import errno
import fnmatch
import os
import re
from collections.abc import Callable, Iterator

from fingerspell.files import is_hidden

MAX_FOLDERS = 100_000  # folders a glob may list: `/**/*.jpg` must end, match or not
_MAGIC = re.compile(r"[*?[]")


class TooWide(Exception):
    """A glob listed more than MAX_FOLDERS folders."""


def paths(pattern: str, unlisted: list[tuple[str, OSError]] | None = None) -> Iterator[str]:
    """What `glob.iglob(pattern, recursive=True)` yields, except that wildcards skip every name
    the folder walks skip (files.is_hidden: a Mac zip's `__MACOSX` too), that `**` does not
    descend into symlinked folders (as bash's globstar and pathlib do not), so that symlink
    loops end, and that listing more than MAX_FOLDERS folders raises TooWide: glob itself walks
    loops forever when nothing matches, and any tree of folders however large.

    Folders that exist but cannot be listed (no permission) are appended to `unlisted` with their
    error: glob skips them in silence, which made `'d/*.jpg'` in a locked folder 'no files match'
    and left a locked subfolder's photos out of `'**/*.jpg'` unsaid."""
    listed: set[str] = set()
    last: list[tuple[str, list[os.DirEntry]]] = []  # `**/*.jpg` lists a folder, then matches in it

    def entries(d: str) -> list[os.DirEntry]:
        if last and last[0][0] == d:
            return last[0][1]
        listed.add(d)
        if len(listed) > MAX_FOLDERS:
            raise TooWide
        try:
            with os.scandir(d or ".") as it:
                found = list(it)
        except OSError as exc:  # matches nothing, as in glob; but a locked folder is said
            found = []
            if unlisted is not None and exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                unlisted.append((d or ".", exc))
        last[:] = [(d, found)]
        return found

    def join(d: str, name: str) -> str:
        return os.path.join(d, name) if d else name

    def shown(e: os.DirEntry, part: str) -> bool:  # glob's rule: `*` skips hidden names
        return not is_hidden(e.name) or part.startswith(".")

    def real_dir(e: os.DirEntry) -> bool:
        try:
            return e.is_dir(follow_symlinks=False)
        except OSError:
            return False

    def match(d: str, parts: list[str]) -> Iterator[str]:
        if not parts:
            yield d
            return
        head, rest = parts[0], parts[1:]
        if head == "":  # `a//b`, or a trailing separator: folders only
            if rest:
                yield from match(d, rest)
            elif os.path.isdir(d or "."):
                yield d
        elif head == "**":  # zero or more folders; as the last part, their files too
            stack = [d]
            while stack:
                folder = stack.pop()
                found = entries(folder)
                if rest:
                    yield from match(folder, rest)
                elif folder != d or d:  # glob yields `p/` itself for `p/**`
                    yield folder
                for e in found:
                    if is_hidden(e.name):
                        continue
                    if real_dir(e):
                        stack.append(join(folder, e.name))
                    elif not rest:
                        yield join(folder, e.name)
        elif _MAGIC.search(head):
            for e in entries(d):
                # fnmatch: case-insensitive where the OS's names are (Windows), as glob is there
                if shown(e, head) and fnmatch.fnmatch(e.name, head):
                    if not rest:
                        yield join(d, e.name)
                    elif os.path.isdir(join(d, e.name)):
                        yield from match(join(d, e.name), rest)
        else:
            p = join(d, head)
            if rest:
                if os.path.isdir(p):
                    yield from match(p, rest)
            elif os.path.lexists(p):
                yield p

    drive, parts = split(pattern)
    if parts[0] == "":  # an absolute pattern
        yield from match(drive + os.sep, parts[1:])
    else:  # relative; on Windows `C:x*` is relative to drive C's current folder
        yield from match(drive, parts)


def split(pattern: str, sep: str = os.sep, altsep: str | None = os.altsep,
          splitdrive: Callable[[str], tuple[str, str]] = os.path.splitdrive
          ) -> tuple[str, list[str]]:
    """A pattern's drive (Windows' `C:`, `\\\\server\\share`; '' elsewhere) and its parts, split at
    either separator: on Windows `frames/f*.jpg` matched nothing, split at `\\` alone."""
    drive, rest = splitdrive(pattern)
    return drive, re.split("[" + re.escape(sep + (altsep or "")) + "]", rest)
